"""sdrlink from Python: request a dataset over sdrlink and get its arrays and metadata, verified.

>>> import sdrlink
>>> d = sdrlink.request("spectrum", frequency_start=100e6, frequency_end=101e6, sample_rate=1e6,
...                     server="http://127.0.0.1:8080", token=CONSUMER_TOKEN, out="downloads")
>>> d["frequencies"], d["power_db"], d.meta["global"]["sdrlink:bin_hz"], d.sha256, d.transport

The package drives the ``sdrlink`` command (``sdrlink request TYPE --json``), which finds a provider,
receives the file peer to peer and verifies it (CRC-32 per frame, SHA-256 of the whole); this side hashes
the saved file again, compares it with the SHA-256 the command reported, and only then loads it with
``numpy.load(allow_pickle=False)``. See python/README.md.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional

from ._cli import CommandSpec, conclude, encode_parameter, find_command, parse_line, request_args, run
from ._dataset import Dataset, load, load_sigmf_archive, sha256_file, sigmf_dtype, sigmf_samples
from ._errors import (
    PYTHON_ERROR_CODES,
    SdrlinkAuthError,
    SdrlinkConfigError,
    SdrlinkError,
)

__version__ = "0.1.0"

__all__ = [
    "Dataset",
    "PYTHON_ERROR_CODES",
    "SdrlinkAuthError",
    "SdrlinkConfigError",
    "SdrlinkError",
    "encode_parameter",
    "find_command",
    "load",
    "load_sigmf_archive",
    "parse_line",
    "providers",
    "request",
    "sha256_file",
    "sigmf_dtype",
    "sigmf_samples",
]


def _credentials_env(token: Optional[str]) -> Dict[str, str]:
    env: Dict[str, str] = {}
    if token is not None:
        # through the environment, not argv: other users of the machine can read argv in `ps`
        env["SDRLINK_TOKEN"] = str(token)
    return env


def request(
    request_type: str,
    *,
    server: Optional[str] = None,
    token: Optional[str] = None,
    out: Optional[str] = None,
    provider: Optional[str] = None,
    timeout: Optional[float] = None,
    sdrlink_cmd: CommandSpec = None,
    on_progress: Optional[Callable[[Dict[str, Any]], None]] = None,
    transport: Optional[str] = None,
    wait: Optional[float] = None,
    params: Optional[Dict[str, Any]] = None,
    **parameters: Any,
) -> Dataset:
    """Requests a dataset and returns it loaded: ``d["iq"]``, ``d["power_db"]``, ``d.meta``, ``d.path``.

    - ``request_type``: ``"spectrum"``, ``"signal"``, … (docs/datasets.md); ``**parameters`` are the
      request's parameters under the names the providers take (``frequency_start=100e6``,
      ``modulation="fm"``), each sent as JSON (NumPy scalars are fine). ``params=`` takes them as a dict
      too (merged; a name given both ways raises ``ValueError``), e.g. for a parameter named like one of
      this function's own arguments.
    - ``server``, ``token``: the signaling server's URL and a consumer token or API key; when left out,
      the command takes ``SDRLINK_SERVER`` / ``SDRLINK_TOKEN`` or the login ``sdrlink login`` stored. The
      token reaches the command through its environment, never its arguments.
    - ``out``: the folder to save into (default: the current one); ``provider``: ask this provider only
      (a refusal then carries the provider's own code, e.g. ``ERR_PARAMS``); ``transport``: ``"auto"``,
      ``"p2p"`` or ``"relay"``; ``wait``: seconds to wait for a provider (the command's default: 60).
    - ``timeout``: seconds for the whole request; past it the command is interrupted (its session
      cancelled) and ``SdrlinkError("ERR_TIMEOUT")`` raised. A ``KeyboardInterrupt`` cancels it the same way.
    - ``on_progress``: called with each event the command prints as it goes — ``{"event": "session",
      "session_id"}``, ``{"event": "preparing", "bytes", "total", "percent"}`` while the provider writes
      the file, ``{"event": "connected", "transport", "path"?}``, ``{"event": "progress", "received",
      "total", "percent", "transport"}`` while it arrives. An exception it raises stops the request.
    - ``sdrlink_cmd``: the command to run (a list, or a string split like a shell's); default
      ``SDRLINK_CMD``, then ``sdrlink`` on ``PATH``.

    Raises :class:`SdrlinkError` (``.code``, ``.message``, ``.exit_status``) when no verified dataset
    comes back; ``ValueError`` for a parameter that cannot be sent.
    """
    if params is not None:
        both = sorted(set(params) & set(parameters))
        if both:
            raise ValueError(f"parameter {', '.join(both)} given both in params= and as a keyword")
        parameters = {**params, **parameters}
    cmd = find_command(sdrlink_cmd)
    argv = cmd + request_args(
        request_type,
        parameters,
        server=server,
        out=out,
        provider=provider,
        transport=transport,
        wait=wait,
        events=on_progress is not None,
    )
    outcome = run(argv, env=_credentials_env(token), timeout=timeout, on_event=on_progress)
    result = conclude(outcome)
    path = result.get("path")
    sha = result.get("sha256")
    if not isinstance(path, str) or not isinstance(sha, str):
        raise SdrlinkError("ERR_CLI_OUTPUT", f"the result line has no path or sha256: {json.dumps(result)[:500]}")
    return load(path, sha, result=result)


def providers(
    *,
    server: Optional[str] = None,
    token: Optional[str] = None,
    timeout: Optional[float] = 60,
    sdrlink_cmd: CommandSpec = None,
) -> List[Dict[str, Any]]:
    """The providers the server knows, with what each offers (``sdrlink providers --json``,
    docs/api.md §12): a list of ``{"user_id", "username", "online", "last_seen", "request_types",
    "catalog": {"types": [{"type", "parameters": [...]}], "recordings": [...]} or None}``."""
    argv = find_command(sdrlink_cmd) + ["providers", "--json"]
    if server is not None:
        argv += ["--server", str(server)]
    outcome = run(argv, env=_credentials_env(token), timeout=timeout)
    # `providers --json` prints one JSON document: the array (pretty-printed), or an error object
    try:
        doc = json.loads(outcome.stdout) if outcome.stdout.strip() else None
    except ValueError:
        doc = None
    if isinstance(doc, list) and outcome.exit_status == 0:
        return doc
    if isinstance(doc, dict) and doc.get("ok") is False:
        outcome.result = doc
    conclude(outcome)  # raises: the error line, or the command's failure without one
    raise SdrlinkError("ERR_CLI_OUTPUT", f"sdrlink providers printed no JSON array: {outcome.stdout[:500]!r}")
