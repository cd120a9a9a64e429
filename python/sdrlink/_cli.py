"""Driving the ``sdrlink`` command: finding it, building its arguments, reading its JSON lines."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from ._errors import EXIT_INTERRUPTED, SdrlinkError, error_from_result

CommandSpec = Union[str, Sequence[str], None]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def find_command(sdrlink_cmd: CommandSpec = None) -> List[str]:
    """The command line that runs ``sdrlink``, as a list.

    In order: ``sdrlink_cmd`` (a list of words, or a string split like a shell would:
    ``"node /opt/sdrlink/dist/src/cli/main.js"``), else the environment variable ``SDRLINK_CMD`` (split
    the same way), else ``sdrlink`` found on ``PATH``. Raises ``SdrlinkError("ERR_SDRLINK_NOT_FOUND")``.
    """
    if sdrlink_cmd is None:
        env = os.environ.get("SDRLINK_CMD", "").strip()
        if env:
            words = shlex.split(env)
            origin = "SDRLINK_CMD"
        else:
            found = shutil.which("sdrlink")
            if found is None:
                raise SdrlinkError(
                    "ERR_SDRLINK_NOT_FOUND",
                    "no sdrlink command on PATH; install it (README 'Install'), or set SDRLINK_CMD "
                    "(e.g. 'node /path/to/sdrlink/dist/src/cli/main.js') or pass sdrlink_cmd=",
                )
            return [found]
    else:
        words = shlex.split(sdrlink_cmd) if isinstance(sdrlink_cmd, str) else [str(w) for w in sdrlink_cmd]
        origin = "sdrlink_cmd"
    if not words:
        raise SdrlinkError("ERR_SDRLINK_NOT_FOUND", f"{origin} is empty")
    program = words[0]
    if os.sep not in program and shutil.which(program) is None:
        raise SdrlinkError("ERR_SDRLINK_NOT_FOUND", f"{origin}: {program!r} is not on PATH")
    if os.sep in program and not os.access(program, os.X_OK):
        raise SdrlinkError("ERR_SDRLINK_NOT_FOUND", f"{origin}: {program!r} is not an executable file")
    return words


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays as plain Python values, for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def encode_parameter(key: str, value: Any) -> str:
    """One ``--param`` value: ``key=<JSON>``. ``frequency=100e6`` → ``frequency=100000000.0``;
    ``modulation="fm"`` → ``modulation="fm"`` (a JSON string, so ``"true"`` stays a string).

    Raises ``ValueError`` for a key the command would refuse or a value JSON cannot carry (NaN, ∞)."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(f"parameter name {key!r}: letters, digits and _ only, not starting with a digit")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"parameter {key}: {value} cannot be sent (JSON has no NaN or infinity)")
    try:
        text = json.dumps(value, default=_plain, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise ValueError(f"parameter {key}: {e}") from e
    return f"{key}={text}"


def request_args(
    request_type: str,
    parameters: Dict[str, Any],
    *,
    server: Optional[str] = None,
    out: Optional[str] = None,
    provider: Optional[str] = None,
    transport: Optional[str] = None,
    wait: Optional[float] = None,
    events: bool = False,
    extra: Sequence[str] = (),
) -> List[str]:
    """The arguments after the command for ``sdrlink request TYPE --json``. The token is not among them: it
    goes to the command through its environment (``SDRLINK_TOKEN``), so that ``ps`` does not show it."""
    if not isinstance(request_type, str) or not request_type or request_type.startswith("-"):
        raise ValueError(f"request type {request_type!r}: a name such as 'spectrum' or 'signal'")
    args = ["request", request_type, "--json"]
    if events:
        args.append("--events")
    if server is not None:
        args += ["--server", str(server)]
    args += ["--out", os.fspath(out) if out is not None else "."]
    if provider is not None:
        args += ["--provider", str(provider)]
    if transport is not None:
        args += ["--transport", str(transport)]
    if wait is not None:
        args += ["--wait", str(max(1, int(round(float(wait) * 1000))))]
    for key, value in parameters.items():
        args += ["--param", encode_parameter(key, value)]
    args += list(extra)
    return args


def parse_line(line: Union[str, bytes]) -> Optional[Dict[str, Any]]:
    """One line of the command's ``--json`` output: a JSON object, or ``None`` for a blank line.

    Raises ``SdrlinkError("ERR_CLI_OUTPUT")`` for anything else (the command prints only JSON objects on
    stdout under ``--json``)."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    text = line.strip()
    if not text:
        return None
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise SdrlinkError("ERR_CLI_OUTPUT", f"not a JSON line: {text[:200]!r}") from e
    if not isinstance(obj, dict):
        raise SdrlinkError("ERR_CLI_OUTPUT", f"not a JSON object: {text[:200]!r}")
    return obj


class Outcome:
    """What one run of the command gave: its events, its result line, its exit status and stderr."""

    def __init__(self) -> None:
        self.events: List[Dict[str, Any]] = []
        self.result: Optional[Dict[str, Any]] = None
        self.exit_status: Optional[int] = None
        self.stderr = ""
        self.stdout = ""
        self.stray: List[str] = []


def feed_lines(
    lines: Sequence[Union[str, bytes]],
    outcome: Outcome,
    on_event: Optional[Callable[[Dict[str, Any]], None]] = None,
) -> None:
    """Sorts lines into ``outcome``: objects with ``event`` are events (passed to ``on_event``), those with
    ``ok`` are result lines (the last one counts); anything else is kept in ``outcome.stray``."""
    for line in lines:
        try:
            obj = parse_line(line)
        except SdrlinkError:
            outcome.stray.append(line if isinstance(line, str) else line.decode("utf-8", "replace"))
            continue
        if obj is None:
            continue
        if isinstance(obj.get("event"), str):
            outcome.events.append(obj)
            if on_event is not None:
                on_event(obj)
        elif isinstance(obj.get("ok"), bool):
            outcome.result = obj
        else:
            outcome.stray.append(json.dumps(obj))


def conclude(outcome: Outcome) -> Dict[str, Any]:
    """The result of a finished run: the ``ok: true`` line, or the :class:`SdrlinkError` it amounts to."""
    status = outcome.exit_status
    r = outcome.result
    if r is not None and r.get("ok") is False:
        raise error_from_result(r, status, outcome.stderr)
    if r is not None and r.get("ok") is True and status == 0:
        return r
    tail = outcome.stderr.strip()[-2000:]
    if status == EXIT_INTERRUPTED:
        raise SdrlinkError("ERR_CLI", f"the command was interrupted. {tail}".strip(), exit_status=status)
    if status != 0:
        raise SdrlinkError(
            "ERR_CLI",
            f"sdrlink exited {status} without a JSON result: {tail or '(nothing on stderr)'}",
            exit_status=status,
            stderr=outcome.stderr,
        )
    stray = "; ".join(outcome.stray)[:500]
    raise SdrlinkError(
        "ERR_CLI_OUTPUT",
        f"sdrlink exited 0 without an ok result line{': ' + stray if stray else ''}",
        exit_status=status,
        stderr=outcome.stderr,
    )


def run(
    argv: List[str],
    *,
    env: Optional[Dict[str, str]] = None,
    timeout: Optional[float] = None,
    on_event: Optional[Callable[[Dict[str, Any]], None]] = None,
) -> Outcome:
    """Runs the command, reading its stdout line by line (events go to ``on_event`` as they come).

    On ``timeout`` (seconds) or a ``KeyboardInterrupt``, the command gets SIGINT — ``sdrlink request``
    then cancels its session, recorded as cancelled by the consumer — and SIGKILL 10 s later if still
    running. A timeout raises ``SdrlinkError("ERR_TIMEOUT")``; the interrupt is re-raised."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            # its own session: a Ctrl-C at the terminal reaches Python only, which passes on one SIGINT (a
            # second one would make sdrlink exit at once, before it cancels its session)
            start_new_session=True,
        )
    except OSError as e:
        raise SdrlinkError("ERR_SDRLINK_NOT_FOUND", f"{argv[0]} cannot be started: {e}") from e
    outcome = Outcome()
    out_chunks: List[bytes] = []
    err_chunks: List[bytes] = []

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for chunk in iter(lambda: proc.stderr.read(65536), b""):
            err_chunks.append(chunk)

    err_thread = threading.Thread(target=drain_stderr, daemon=True)
    err_thread.start()
    timed_out = threading.Event()
    timer: Optional[threading.Timer] = None
    if timeout is not None:

        def expire() -> None:
            timed_out.set()
            _stop(proc)

        timer = threading.Timer(float(timeout), expire)
        timer.daemon = True
        timer.start()
    callback_error: List[BaseException] = []

    def guarded(e: Dict[str, Any]) -> None:
        if on_event is None or callback_error:
            return
        try:
            on_event(e)
        except BaseException as exc:  # the caller's callback: stop the request, re-raise afterwards
            callback_error.append(exc)
            _stop(proc)

    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            out_chunks.append(raw)
            feed_lines([raw], outcome, guarded)
        proc.wait()
    except KeyboardInterrupt:
        _stop(proc)
        proc.wait()
        raise
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err_thread.join(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    outcome.exit_status = proc.returncode
    outcome.stdout = b"".join(out_chunks).decode("utf-8", errors="replace")
    outcome.stderr = b"".join(err_chunks).decode("utf-8", errors="replace")
    if callback_error:
        raise callback_error[0]
    if timed_out.is_set():
        raise SdrlinkError(
            "ERR_TIMEOUT",
            f"no result within {timeout} s; the request was stopped (its session cancelled)",
            exit_status=proc.returncode,
            stderr=outcome.stderr,
        )
    return outcome


def _stop(proc: "subprocess.Popen[bytes]", grace: float = 10.0) -> None:
    """SIGINT now, SIGKILL after ``grace`` seconds if the process still runs (from a daemon thread)."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGINT)
    except OSError:
        return

    def kill_later() -> None:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return
            time.sleep(0.05)
        try:
            proc.kill()
        except OSError:
            pass

    threading.Thread(target=kill_later, daemon=True).start()

