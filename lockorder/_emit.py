"""Emitting findings as the mode says: raise (the exception to raise is returned
to the acquire that made it), warn (a LockOrderWarning and a record of the
"lockorder" logger), record (nothing); and lockorder's own internal errors,
warned of so the program goes on.
"""

from __future__ import annotations

import atexit
import logging
import sys
import warnings
from types import FrameType

from lockorder import _threads
from lockorder._findings import Finding
from lockorder._held import ThreadState
from lockorder._state import checker
from lockorder.errors import (
    LockOrderViolation,
    LockOrderWarning,
    PotentialDeadlockError,
    SelfDeadlockError,
)

__all__ = [
    "add_finding",
    "emit",
    "exception_for",
    "internal_error",
    "log_fields",
    "log_new",
    "stacklevel",
    "summary",
]

_logger = logging.getLogger("lockorder")
# findings made where nothing logs them at once (a thread's end) are logged at
# the next finding's flush, or here
atexit.register(lambda: log_new())
# a library's logger: records reach the program's handlers if it configured
# logging, and are not printed a second time by logging's last resort if not
# (warn mode's LockOrderWarning already shows them)
_logger.addHandler(logging.NullHandler())


def stacklevel() -> int:
    """The warnings stacklevel that points at the first frame outside lockorder."""
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (
            isinstance(module, str)
            and (module == "lockorder" or module.startswith(("lockorder.", "wrapt", "threading")))
        ):
            return level
        frame = frame.f_back
        level += 1
    return level


def add_finding(finding: Finding) -> bool:
    """Record a finding made outside the slow path (lockorder._state's store) and
    log it; False if it is a duplicate or suppressed. Call it holding none of
    lockorder's locks: it logs."""
    added = checker.add_finding(finding)
    log_new()
    return added


def emit(new: list[Finding], ts: ThreadState | None = None) -> Exception | None:
    """Report new findings as the mode says; return the exception to raise, if
    any. Call it holding none of lockorder's locks: it logs (log_new)."""
    log_new()
    if not new:
        return None

    mode = checker.settings.mode
    error: Exception | None = None
    if ts is None:
        ts = _threads.current()
    ts.suppress += 1
    try:
        for finding in new:
            if finding.severity == "error" and mode == "raise":
                if error is None:
                    error = exception_for(finding)
                continue
            if mode == "record":
                continue
            text = finding.format()
            warnings.warn(LockOrderWarning(text, finding), stacklevel=stacklevel())
    finally:
        ts.suppress -= 1
    return error


def log_new() -> None:
    """One record on the "lockorder" logger for each finding made since the last
    call, in warn mode, and in raise mode for the warnings (its errors are
    raised; record mode is silent): WARNING or ERROR by severity, the finding's
    summary as the message, and structured fields in ``extra``
    (docs/production.md). A finding is logged once. Called where the
    thread holds none of lockorder's locks: a handler may block or take locks
    of its own, whose acquires here make no edges."""
    if checker.settings.report:
        live = sys.modules.get("lockorder._live")
        if live is not None:  # (imported by whatever set the report)
            live.changed()  # new edges or findings: the process's report
    if not checker.unlogged:
        return
    new = checker.take_unlogged()
    mode = checker.settings.mode
    if not new or mode == "record" or not _handled():
        return
    ts = _threads.current()
    ts.suppress += 1
    try:
        for finding in new:
            if finding.severity == "error" and mode == "raise":
                continue  # raised into the program: the exception is its report
            level = logging.ERROR if finding.severity == "error" else logging.WARNING
            if _logger.isEnabledFor(level):
                _logger.log(level, "%s", summary(finding), extra=log_fields(finding))
    except Exception as exc:  # a log call must never break the program
        internal_error(exc)
    finally:
        ts.suppress -= 1


def _handled() -> bool:
    """Whether a record of the lockorder logger reaches a handler other than its
    NullHandler. If none does, nothing is built: a finding's fields read its
    lines' source (the fingerprint), which a program that logs nowhere should
    not pay for on the thread that made the finding."""
    logger: logging.Logger | None = _logger
    while logger is not None:
        if any(not isinstance(h, logging.NullHandler) for h in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def summary(finding: Finding) -> str:
    """A finding in one paragraph: what, why, and the test if any (the stacks are
    the report's)."""
    text = f"{finding.kind}: {finding.message}"
    if finding.reason:
        text += f" (why: {finding.reason})"
    if finding.test:
        text += f" [test {finding.test}]"
    return text


def log_fields(finding: Finding) -> dict[str, object]:
    """The structured fields of a finding's log record (LogRecord attributes)."""
    from lockorder.report.fingerprint import fingerprint

    threads = [edge.thread for edge in finding.cycle] or [finding.thread]
    return {
        "lockorder_kind": finding.kind,
        "lockorder_severity": finding.severity,
        "lockorder_fingerprint": fingerprint(finding),
        "lockorder_locks": [lock.label for lock in finding.locks],
        "lockorder_sites": [lock.site for lock in finding.locks],
        "lockorder_threads": list(dict.fromkeys(threads)),
        "lockorder_test": finding.test,
    }


def exception_for(finding: Finding) -> Exception:
    text = finding.format()
    if finding.kind == "self-deadlock":
        return SelfDeadlockError(text, finding)
    if finding.kind == "order-violation":
        return LockOrderViolation(text, finding)
    return PotentialDeadlockError(text, finding)


def internal_error(exc: Exception) -> None:
    try:
        warnings.warn(
            LockOrderWarning(f"lockorder internal error, the acquire goes on unchecked: {exc!r}"),
            stacklevel=stacklevel(),
        )
    except Exception:  # pragma: no cover - even the warning failed
        pass
