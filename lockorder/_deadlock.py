"""Real deadlocks: the wait-for check of a blocked acquire, and lockorder.dump().

A blocking acquire of a checked lock first tries without waiting; only if the
lock is taken does it wait, in slices of ``deadlock_check`` seconds. After each
slice it follows the wait-for chain: the lock's owner, what that owner waits
for, its owner, and so on. If the chain comes back to this thread, the threads
are deadlocked. One of them, the **victim**, gets :class:`DeadlockError` from
its acquire: the thread of the cycle that started waiting last (the acquire
that closed the cycle; ties broken by the higher thread serial), leaving out
threads that are taking a Condition's lock back in ``wait()`` unless all are. Every thread
of the cycle checks on its own, so the victim finds the cycle itself, within one
slice after the last thread started waiting.

Locks of a class used as a signal (released by other threads than their
acquirer) and semaphores have no owner to wait for: they end a chain.

Everything here reads other threads' state without lockorder's mutex (a
snapshot of each list, each attribute read once), so it works while the program
is wedged, from a signal handler too.
"""

from __future__ import annotations

import _thread
import sys
import threading
import time
from typing import Any

from lockorder import _discipline, _emit, _held, _sites, _threads
from lockorder._findings import Finding
from lockorder._sites import Frame
from lockorder._state import checker
from lockorder._tracker import ThreadState
from lockorder.errors import DeadlockError, hide_from_findings

#: pytest shows none of this module's frames when a test fails with a finding
#: (lockorder.errors.hide_from_findings)
__tracebackhide__ = hide_from_findings

__all__ = ["dump", "wait_acquire"]

# bound at import: a test that patches time.sleep or time.monotonic (portalocker's
# replace sleep with list.append) must not reach lockorder's own threads and waits
monotonic = time.monotonic
sleep = time.sleep


class Waitable:
    """Something other than a lock a thread can block on: a thread (join) or a future."""

    __slots__ = ("label", "owner")

    def __init__(self, label: str, owner: ThreadState | None) -> None:
        self.label = label
        #: the thread that must act for the wait to end, if known
        self.owner = owner


def wait_acquire(st: Any, ts: ThreadState, acquire: Any, restore: bool = False) -> None:
    """Acquire ``st`` (blocking, already found taken), checking for deadlocks.

    ``restore``: this is Condition.wait() taking its lock back; such a thread is
    a victim only if every thread of the cycle is one (its caller's ``with``
    block would release a lock it does not hold)."""
    settings = checker.settings
    period = settings.deadlock_check
    ts.wait_since = monotonic()
    ts.wait_restore = restore
    ts.waiting_on = st  # also what dump() shows
    warned = False
    try:
        if period <= 0 and settings.long_wait <= 0:
            acquire()
            return
        while not acquire(True, period if period > 0 else settings.long_wait):
            if period > 0:
                check(ts)
            if not warned and settings.long_wait > 0:
                waited = monotonic() - ts.wait_since
                if waited >= settings.long_wait:
                    warned = True
                    _long_wait(st, ts, waited)
    finally:
        ts.waiting_on = None


def _owner(waited: Any) -> ThreadState | None:
    if isinstance(waited, Waitable):
        return waited.owner
    if waited._lo_sema or _held.is_signal(waited):
        return None
    owner: ThreadState | None = waited._lo_owner
    return owner


def find_cycle(ts: ThreadState) -> list[tuple[ThreadState, Any]] | None:
    """The wait-for cycle through ``ts``: (thread, what it waits for) pairs."""
    chain: list[tuple[ThreadState, Any]] = []
    seen: set[int] = set()
    node: ThreadState | None = ts
    while node is not None:
        waited = node.waiting_on
        if waited is None:
            return None
        chain.append((node, waited))
        seen.add(id(node))
        owner = _owner(waited)
        if owner is ts:
            return chain
        if owner is None or id(owner) in seen:
            return None
        node = owner
    return None


def check(ts: ThreadState) -> None:
    """Raise DeadlockError in ``ts`` if it is the victim of a wait-for cycle."""
    cycle = find_cycle(ts)
    if cycle is None:
        return
    nodes = [node for node, _ in cycle]
    candidates = [node for node in nodes if not node.wait_restore] or nodes
    victim = max(candidates, key=lambda node: (node.wait_since, node.serial))
    if victim is not ts:
        return
    again = find_cycle(ts)  # confirm: a real deadlock does not move
    if again is None or [n for n, _ in again] != [n for n, _ in cycle]:
        return
    finding = deadlock_finding(cycle, ts)
    _emit.add_finding(finding)
    if _discipline.breaks_deadlocks():
        raise DeadlockError(finding.format(), finding)


# -- reports ----------------------------------------------------------------------------


def thread_stack(ts: ThreadState) -> tuple[Frame, ...]:
    """The current stack of another (or this) thread, innermost last."""
    return _sites.stack_of(sys._current_frames().get(ts.ident))


def _label(waited: Any) -> str:
    if isinstance(waited, Waitable):
        return waited.label
    return str(waited._lo_cls.label)


def _holder(waited: Any, owner: ThreadState | None) -> str:
    if owner is None:
        return ""
    if isinstance(waited, Waitable):
        return f" (to be ended by {owner.name!r})"
    return f" held by {owner.name!r}"


def _held_labels(ts: ThreadState) -> list[str]:
    """The thread's held locks, each with where it was taken when that is known."""
    labels = []
    for st in list(ts.held):
        at = _held.held_site(st)
        where = (
            ""
            if at is None
            else f" (acquired at {_sites.relpath(at.filename)}:{at.lineno} in {at.function})"
        )
        labels.append(_label(st) + where)
    return labels


def _stack_lines(stack: tuple[Frame, ...], indent: str) -> list[str]:
    return [f'{indent}File "{_sites.relpath(f)}", line {n}, in {fn}' for f, n, fn in stack]


def _victim_reason(cycle: list[tuple[ThreadState, Any]], victim: ThreadState, who: str) -> str:
    last = max((node for node, _ in cycle), key=lambda node: (node.wait_since, node.serial))
    if last is victim:
        why = "the last to start waiting"
    else:
        why = (
            f"the last to start waiting but {last.name!r}, which is re-acquiring a "
            "Condition's lock in wait(): an exception there would leave its with-block "
            "releasing a lock it does not hold"
        )
    return (
        f"every {who} of the cycle is blocked; {victim.name!r} ({why}) gets "
        "DeadlockError so its locks are released and the others go on"
    )


def deadlock_finding(
    cycle: list[tuple[ThreadState, Any]],
    victim: ThreadState,
    stack_of: Any = None,
) -> Finding:
    """The ``deadlock`` finding of a wait-for cycle, ``victim`` getting DeadlockError.
    ``stack_of``: a holder's stack (default: its thread's)."""
    if stack_of is None:
        stack_of = thread_stack
    now = monotonic()
    who = victim.kind
    details: list[str] = []
    parts = []
    refs = []
    for node, waited in cycle:
        owner = _owner(waited)
        holder = _holder(waited, owner)
        parts.append(f"{node.name!r} waits for {_label(waited)}{holder}")
        if not isinstance(waited, Waitable):
            refs.append(_held.lock_ref(waited))
        details.append("")
        details.append(f"{'task' if node.task is not None else 'thread'} {node.name!r}:")
        held = _held_labels(node)
        details.append(f"  holds: {', '.join(held) if held else 'nothing checked'}")
        details.append(f"  waits for: {_label(waited)}{holder}, for {now - node.wait_since:.2f} s")
        details.append("  stack (most recent call last):")
        details.extend(_stack_lines(stack_of(node), "    "))
    return Finding(
        kind="deadlock",
        severity="error",
        message="; ".join(parts),
        locks=tuple(refs),
        thread=victim.name,
        stack=stack_of(victim),
        reason=_victim_reason(cycle, victim, who),
        test=checker.current_test,
        # one finding per cycle of threads and locks, however often it is checked
        signature="deadlock:"
        + "|".join(f"{node.serial}>{_label(waited)}" for node, waited in cycle),
        details=tuple(details[1:]),
    )


def _long_wait(st: Any, ts: ThreadState, waited: float) -> None:
    owner = _owner(st)
    holder = f", held by thread {owner.name!r}" if owner is not None else " (no owner known)"
    details = [f"waiting thread {ts.name!r} holds: {', '.join(_held_labels(ts)) or 'nothing'}"]
    if owner is not None:
        details.extend(_holder_stack(owner))
    _report_long(
        "long-wait",
        st,
        ts,
        message=f"thread {ts.name!r} has waited {waited:.2f} s for {_label(st)}{holder}",
        reason=f"waited longer than long_wait={checker.settings.long_wait:g} s without a "
        "wait-for cycle",
        details=details,
        emitter=ts,
    )


def _holder_stack(owner: ThreadState) -> list[str]:
    return [
        f"holder {owner.name!r} stack (most recent call last):",
        *_stack_lines(thread_stack(owner), "  "),
    ]


def _report_long(
    kind: str,
    st: Any,
    ts: ThreadState,
    *,
    message: str,
    reason: str,
    details: list[str],
    emitter: Any,
) -> None:
    """A long-wait or long-hold finding about ``st`` and thread ``ts`` (once per
    lock class and thread)."""
    finding = Finding(
        kind=kind,
        severity="warning",
        message=message,
        locks=(_held.lock_ref(st),),
        thread=ts.name,
        stack=thread_stack(ts),
        reason=reason,
        test=checker.current_test,
        signature=f"{kind}:{st._lo_cls.key}:{ts.serial}",
        details=tuple(details),
    )
    if _emit.add_finding(finding):
        _emit.emit([finding], emitter)


def dump_text() -> str:
    """What every thread holds and waits for, with its stack (lockorder.dump())."""
    lines = ["lockorder dump: checked locks held and waited for, by thread"]
    now = monotonic()
    states = {ts.ident: ts for ts in list(_threads.by_serial.values())}
    frames = sys._current_frames()
    names = {thread.ident: thread.name for thread in list(threading._active.values())}  # type: ignore[attr-defined]
    for ident, frame in frames.items():
        if ident in _threads.internal_idents:  # lockorder's own threads hold nothing
            continue
        ts = states.get(ident)
        name = ts.name if ts is not None else names.get(ident, f"thread-{ident}")
        lines.append("")
        lines.append(f"thread {name!r} (ident {ident}):")
        if ts is None:
            lines.append("  holds: nothing checked")
        else:
            held = _held_labels(ts)
            lines.append(f"  holds: {', '.join(held) if held else 'nothing checked'}")
            waited = ts.waiting_on
            if waited is not None:
                owner = _owner(waited)
                holder = "," + _holder(waited, owner) if owner is not None else ""
                lines.append(
                    f"  waits for: {_label(waited)}{holder} (for {now - ts.wait_since:.2f} s)"
                )
        stack = _sites.stack_of(frame)
        lines.append("  stack (most recent call last):")
        lines.extend(_stack_lines(stack, "    "))
    return "\n".join(lines)


def dump(file: Any = None) -> str:
    """Print, for every thread that used checked locks, the locks it holds, what it
    waits for right now (and who holds that), and its stack. Takes no lock of
    lockorder's, so it works while the program is wedged. Returns the text.

    Args:
        file: where to print (default ``sys.stderr``); ``False`` to only return it.
    """
    if file is not None and file is not False and not callable(getattr(file, "write", None)):
        raise TypeError(
            "lockorder.dump(file=...) takes a file (an object with write()), None for "
            f"sys.stderr or False for the text only, not {type(file).__name__!r}"
        )
    text = dump_text()
    if file is not False:
        out = sys.stderr if file is None else file
        print(text, file=out, flush=True)
    return text


# -- long holds: a monitor thread, started when long_hold is set ------------------------------

_monitor_started = False


def ensure_monitor() -> None:
    """Start the long-hold monitor once (a raw thread: not in threading.enumerate())."""
    global _monitor_started
    if _monitor_started or checker.settings.long_hold <= 0:
        return
    _monitor_started = True
    _threads.internal_threads += 1
    _thread.start_new_thread(_monitor, ())


class _MonitorState:
    """Stands in for a thread state when the monitor emits a finding."""

    suppress = 0


def _monitor() -> None:
    _threads.internal_thread_started()
    first_seen: dict[tuple[int, int], float] = {}
    reported: set[tuple[int, int]] = set()
    while True:
        limit = checker.settings.long_hold
        if limit <= 0:
            sleep(0.5)
            continue
        try:
            now = monotonic()
            current: set[tuple[int, int]] = set()
            for ts in list(_threads.by_serial.values()):
                for st in list(ts.held):
                    if st._lo_sema or _held.is_signal(st):
                        continue  # nobody owns a signal: its "holder" holds up nothing
                    key = (ts.serial, id(st))
                    current.add(key)
                    since = first_seen.setdefault(key, now)
                    if now - since >= limit and key not in reported:
                        reported.add(key)
                        _long_hold(st, ts, now - since)
            for key in list(first_seen):
                if key not in current:
                    del first_seen[key]
                    reported.discard(key)
        except Exception:  # pragma: no cover - the monitor must outlive a bad snapshot
            pass
        sleep(min(limit / 4, 1.0))


def _long_hold(st: Any, ts: ThreadState, held_for: float) -> None:
    _report_long(
        "long-hold",
        st,
        ts,
        message=f"thread {ts.name!r} has held {_label(st)} for {held_for:.1f} s or more",
        reason=f"held longer than long_hold={checker.settings.long_hold:g} s (seen by a "
        "monitor that looks every quarter of that, so the figure is a lower bound)",
        details=_holder_stack(ts),
        emitter=_MonitorState(),
    )
