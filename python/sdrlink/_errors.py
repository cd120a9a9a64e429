"""The one exception of the package, and the codes it adds to those of the ``sdrlink`` command."""

from __future__ import annotations

from typing import Optional

#: Codes raised by the Python side itself (docs/errors.md, "Python package"). Every other code comes
#: from the ``sdrlink`` command's JSON error line and is documented with its area there.
PYTHON_ERROR_CODES = (
    "ERR_SDRLINK_NOT_FOUND",
    "ERR_CLI",
    "ERR_CLI_OUTPUT",
    "ERR_TIMEOUT",
    "ERR_CHECKSUM",
    "ERR_FORMAT",
)

#: The command's exit statuses (README "Exit codes").
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_AUTH = 3
EXIT_INTERRUPTED = 130


class SdrlinkError(Exception):
    """A request that did not give a verified dataset.

    - ``code``: a stable ``ERR_*`` code to switch on. It is the ``code`` of the command's JSON error line,
      except that a provider's own refusal (``ERR_PROVIDER`` with the provider's code, e.g. a bad
      parameter) gives the provider's code, ``ERR_PARAMS``; ``cli_code`` keeps ``ERR_PROVIDER`` then.
    - ``cause_code``: the server's or the provider's code behind ``code`` when the command gave one
      (``ERR_TOKEN_EXPIRED`` behind ``ERR_AUTH``), else ``None``.
    - ``exit_status``: the command's exit status (1 failed, 2 bad configuration or no credential,
      3 credential refused, 130 interrupted), ``None`` when the command did not run or was stopped here.
    - ``message``: the reason, as the command wrote it.

    :class:`SdrlinkConfigError` (exit status 2) and :class:`SdrlinkAuthError` (exit status 3) are the
    subclasses raised for those statuses.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        exit_status: Optional[int] = None,
        cli_code: Optional[str] = None,
        cause_code: Optional[str] = None,
        stderr: str = "",
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.exit_status = exit_status
        self.cli_code = cli_code if cli_code is not None else code
        self.cause_code = cause_code
        self.stderr = stderr


class SdrlinkConfigError(SdrlinkError):
    """Exit status 2: a bad option or value, or no server or credential to use."""


class SdrlinkAuthError(SdrlinkError):
    """Exit status 3: the server refused the credential (revoked, expired, unknown)."""


def error_from_result(result: dict, exit_status: Optional[int], stderr: str = "") -> SdrlinkError:
    """The exception for a ``{"ok": false, "code", "message"}`` line and the command's exit status."""
    code = result.get("code")
    message = result.get("message")
    if not isinstance(code, str) or not code.startswith("ERR_"):
        code = "ERR_CLI_OUTPUT"
        message = f"the error line has no ERR_ code: {result!r}"
    if not isinstance(message, str):
        message = ""
    cause = result.get("cause_code")
    cause = cause if isinstance(cause, str) and cause.startswith("ERR_") else None
    effective = cause if code == "ERR_PROVIDER" and cause is not None else code
    cls = SdrlinkError
    if exit_status == EXIT_CONFIG:
        cls = SdrlinkConfigError
    elif exit_status == EXIT_AUTH:
        cls = SdrlinkAuthError
    return cls(
        effective,
        message,
        exit_status=exit_status,
        cli_code=code,
        cause_code=cause,
        stderr=stderr,
    )
