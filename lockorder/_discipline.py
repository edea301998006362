"""Lock-discipline findings (a thread re-acquiring a Lock it holds, a release by
another thread than the acquirer) and the signals they teach: a class whose
locks another thread releases is a signal from then on, and what its holds
caused is withdrawn (lockorder._tracker.withdraw_signal).
"""

from __future__ import annotations

from typing import Any

from lockorder import _emit, _held, _sites
from lockorder._findings import Finding
from lockorder._graph import LockClass
from lockorder._held import ThreadState
from lockorder._state import checker
from lockorder.errors import SelfDeadlockError

__all__ = [
    "RELEASED_BY_ANOTHER",
    "TAKEN_AS_CAPACITY",
    "breaks_deadlocks",
    "learned_signal",
    "release_not_held",
    "self_deadlock",
]


def breaks_deadlocks() -> bool:
    """Whether a real deadlock (or a certain self-deadlock) raises in its victim:
    ``break_deadlocks``, by default in raise and warn modes (docs/deadlocks.md)."""
    settings = checker.settings
    breaking = settings.break_deadlocks
    return breaking if breaking is not None else settings.mode != "record"


def self_deadlock(st: Any, ts: ThreadState, waited: float | None) -> Exception | None:
    """Record a self-deadlock finding; return the exception to raise (raise/warn modes)."""
    cls: LockClass = st._lo_cls
    ref = _held.lock_ref(st)
    if waited is None:
        why = "no other thread exists that could release it"
    else:
        why = (
            f"no other thread released it within {waited:g} s "
            "(self_deadlock_wait); a Lock used as a signal can be declared with "
            "lockorder.Lock(signal=True)"
        )
    finding = Finding(
        kind="self-deadlock",
        severity="error",
        message=f"thread {ts.name!r} acquires {ref.label}, which it already holds: "
        "a non-reentrant Lock would wait forever",
        locks=(ref,),
        thread=ts.name,
        stack=_sites.capture_stack(3),
        reason=why,
        test=checker.current_test,
        signature=f"self-deadlock:{cls.key}",
    )
    _emit.add_finding(finding)
    if not breaks_deadlocks():
        return None
    return SelfDeadlockError(finding.format(), finding)


def release_not_held(st: Any, ts: ThreadState, owner: ThreadState) -> None:
    """``ts`` released ``st``, which ``owner`` had acquired."""
    cls: LockClass = st._lo_cls
    if not learned_signal(cls) or st._lo_signal:
        return
    ref = _held.lock_ref(st)
    _, taken = _held.where_taken([st])
    finding = Finding(
        kind="release-not-held",
        severity="warning",
        message=f"{ts.kind} {ts.name!r} released {ref.label}, which {owner.kind} "
        f"{owner.name!r} had acquired",
        locks=(ref,),
        thread=ts.name,
        stack=_sites.capture_stack(3),
        reason="legal for a Lock, and a bug unless the lock is used as a signal; "
        "from now on a re-acquire of this class by its holder waits for the release",
        test=checker.current_test,
        signature=f"release-not-held:{cls.key}",
        details=tuple(f"{line} (by {owner.kind} {owner.name!r})" for line in taken),
    )
    if _emit.add_finding(finding):
        _emit.emit([finding], ts)


#: why a class is a signal, as the withdrawn findings' rule says it
RELEASED_BY_ANOTHER = "is used as a signal (released by another thread than its acquirer)"
TAKEN_AS_CAPACITY = (
    "counts capacity, not holds (a thread took several of its units in a loop, "
    "for other threads to give back)"
)


def learned_signal(cls: LockClass, why: str = RELEASED_BY_ANOTHER) -> bool:
    """A lock of ``cls`` was released by another thread than its acquirer (a
    semaphore: by a thread holding none of its units), or a semaphore's units were
    taken as capacity: the class is a signal from now on, and what its holds
    caused is withdrawn. Returns whether it is new."""
    if cls.signal:
        return False
    cls.signal = True
    with checker.mu:
        checker.withdraw_signal(cls, why)
    return True
