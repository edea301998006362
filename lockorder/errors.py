"""Public exceptions and warnings of lockorder.

They live in their own module, with no import of the rest of the package, so
that any module may raise them without an import loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lockorder._findings import Finding

__all__ = [
    "ConfigurationError",
    "DeadlockError",
    "LockOrderError",
    "LockOrderViolation",
    "LockOrderWarning",
    "PotentialDeadlockError",
    "SelfDeadlockError",
]


class LockOrderError(Exception):
    """Root of lockorder's exceptions that report a finding.

    Attributes:
        finding: the :class:`~lockorder.Finding` that caused the exception,
            or ``None`` for errors that are not findings.
    """

    finding: Finding | None

    def __init__(self, message: str, finding: Finding | None = None) -> None:
        super().__init__(message)
        self.finding = finding


class PotentialDeadlockError(LockOrderError, RuntimeError):
    """An acquire would close a cycle in the lock-order graph.

    Raised in ``raise`` mode by the acquire that closes the cycle, before it
    blocks: the lock is not taken.
    """


class SelfDeadlockError(LockOrderError, RuntimeError):
    """A thread made a blocking acquire of a non-reentrant lock it already holds."""


class DeadlockError(LockOrderError, RuntimeError):
    """Threads wait for each other in a cycle: raised in one of them (the victim),
    whose acquire gives up so its ``with`` blocks unwind and the others go on."""


class LockOrderViolation(LockOrderError, RuntimeError):
    """``lockorder.acquire()`` was asked for a lock that sorts before one it holds."""


class ConfigurationError(ValueError):
    """An invalid setting: names the setting, the value and where it came from."""

    def __init__(
        self, setting: str, value: Any, expected: str, source: str, message: str | None = None
    ) -> None:
        super().__init__(message or f"{setting} must be {expected} (got {value!r} from {source})")
        self.setting = setting
        self.value = value
        self.expected = expected
        self.source = source


def finding_raised(exc: BaseException) -> Finding | None:
    """The finding an exception (or the first of its causes that is a
    LockOrderError) was raised for, if any."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:  # the exception and its causes
        seen.add(id(error))
        if isinstance(error, LockOrderError) and error.finding is not None:
            return error.finding
        error = error.__cause__ or error.__context__
    return None


def hide_from_findings(excinfo: Any) -> bool:
    """pytest's ``__tracebackhide__`` of lockorder's modules on the acquire path
    (each sets it to this function): the traceback of a failure that reports a
    finding (a :class:`LockOrderError`, whose message is the report) shows the
    user's frames, not lockorder's, which only say how the finding was made. Any
    other exception shows them all (a bug of lockorder's must be found), and so
    does ``pytest --fulltrace``."""
    return excinfo is not None and isinstance(getattr(excinfo, "value", None), LockOrderError)


class LockOrderWarning(UserWarning):
    """A finding reported as a warning (``warn`` mode, or a warning-level finding).

    Attributes:
        finding: the :class:`~lockorder.Finding`, or ``None`` for warnings about
            lockorder itself (an internal error caught so the program goes on).
    """

    def __init__(self, message: str, finding: Finding | None = None) -> None:
        super().__init__(message)
        self.finding = finding
