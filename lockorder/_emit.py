"""Emitting findings as the mode says: raise (the exception to raise is returned
to the acquire that made it), warn (a LockOrderWarning and a record of the
"lockorder" logger), record (nothing); and lockorder's own internal errors,
warned of so the program goes on.
"""

from __future__ import annotations

import logging
import sys
import warnings
from types import FrameType

from lockorder import _threads
from lockorder._findings import Finding
from lockorder._held import ThreadState
from lockorder.errors import (
    LockOrderViolation,
    LockOrderWarning,
    PotentialDeadlockError,
    SelfDeadlockError,
)

__all__ = ["emit", "exception_for", "internal_error", "stacklevel"]

_logger = logging.getLogger("lockorder")
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


def emit(new: list[Finding], ts: ThreadState | None = None) -> Exception | None:
    """Report new findings as the mode says; return the exception to raise, if any."""
    if not new:
        return None
    from lockorder import _tracker  # (which calls this module: its settings, at call time)

    mode = _tracker.settings.mode
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
            if mode == "warn":
                _logger.warning("%s", text)
    finally:
        ts.suppress -= 1
    return error


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
