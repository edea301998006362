"""Each thread's held locks: the ThreadState a thread keeps in lockorder's
thread-local storage, and the operations on its held stack (push, pop, the
locks other threads released for it, the locks it dropped while holding them).

Only the owning thread touches its state, except the ``stolen`` list, which
other threads append to under the state's own ``mu``: nothing relies on the GIL.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, Protocol

from lockorder import _forksafe, _sites, _unpatched
from lockorder._findings import LockRef

if TYPE_CHECKING:
    from lockorder._graph import LockClass

__all__ = [
    "IdOrdered",
    "LockState",
    "ThreadState",
    "disown",
    "held_site",
    "is_signal",
    "label",
    "lock_ref",
    "pop",
    "prune_orphans",
    "push",
    "refresh_held",
    "steal",
    "where_taken",
]

#: each thread's ThreadState (``ts``) and its exit token (lockorder._threads)
_tls = threading.local()

# Reentrant: a garbage-collection callback (a weakref.finalize, a __del__) can run
# at any allocation made while mu is held and take checked locks itself, in the
# same thread; it must neither deadlock on mu nor be lost (the slow path defers
# such acquires through ThreadState.busy).
#: the tracker's mutex: it guards the graph, the findings and the thread registry
mu = _forksafe.Mutex(_unpatched.CRLock)


class LockState(Protocol):
    """What the tracker needs of a checked lock (our primitives, or a proxy's state)."""

    _lo_cls: LockClass
    _lo_serial: int
    _lo_owner: ThreadState | None
    _lo_user: ThreadState | None
    _lo_signal: bool
    _lo_leaked: bool
    _lo_sema: bool
    _lo_watched: bool
    _lo_cid: int


class IdOrdered(frozenset[int]):
    """The ids of the locks of one acquisition that takes them in ``id()`` order
    (``concurrent.futures``' wait() and as_completed(), over the futures'
    conditions), pushed on ThreadState.groups while it runs: one order over
    every instance, so two of them of one class make no instance edge."""

    __slots__ = ()


class ThreadState:
    """One thread's view: the held stack and the chains it has validated."""

    __slots__ = (
        "__weakref__",
        "acting",
        "actor",
        "busy",
        "chains",
        "classes",
        "deferred",
        "groups",
        "handoff",
        "held",
        "helper_for",
        "ident",
        "in_wait",
        "known",
        "mirrored",
        "mu",
        "name",
        "ordered",
        "put_into",
        "serial",
        "started_at",
        "stolen",
        "suppress",
        "task",
        "wait_restore",
        "wait_since",
        "waiting_on",
    )

    def __init__(self, serial: int, ident: int, name: str) -> None:
        #: held locks, outermost first (semaphores: one entry per unit)
        self.held: list[Any] = []
        #: chains[i]: hash of the classes of held[: i + 1]
        self.chains: list[int] = []
        #: chain hashes whose edges this thread has already recorded
        self.known: set[int] = set()
        #: never reused, unlike thread idents
        self.serial = serial
        self.ident = ident
        self.name = name
        #: the program's lines that started this thread (under install()), innermost
        #: first: the start() call and up to two of its callers
        self.started_at: tuple[_sites.Frame, ...] = ()
        #: locks another thread released for us (guarded by mu)
        self.stolen: list[Any] = []
        self.mu = _forksafe.Mutex(_unpatched.allocate_lock)
        #: inside the slow path (re-entry from GC or a signal handler defers)
        self.busy = False
        self.deferred: list[tuple[list[Any], Any, int, tuple[_sites.Frame, ...]]] = []
        #: > 0 while lockorder itself runs user-visible code (logging): no edges
        self.suppress = 0
        #: locks taken through lockorder.acquire(), in order
        self.ordered: list[Any] = []
        #: ordered acquisitions in progress (lockorder.acquire(), the futures'
        #: conditions of concurrent.futures.wait()): the ids of the lock states
        #: each takes in an order of its own, global over their instances
        self.groups: list[frozenset[int]] = []
        #: what this thread is blocked on right now (a lock state, or a _Waitable),
        #: and since when (time.monotonic()); set only on the slow wait path
        self.waiting_on: Any = None
        self.wait_since = 0.0
        self.wait_restore = False
        #: > 0 inside a patched stdlib wait (its inner waits are not reported again)
        self.in_wait = 0
        #: the bounded queue this thread is putting into while it had room (a wait
        #: of its not_full condition inside that put is reported as the put's)
        self.put_into: Any = None
        #: lock classes this thread (or its current work item) acquired blocking
        self.classes: set[int] = set()
        #: for an asyncio task's state (lockorder._tasks): a weak reference to the
        #: task; None for a thread
        self.task: Any = None
        #: a thread running a step of a task that holds asyncio locks: that task's
        #: state, whose held asyncio locks are ``mirrored`` on this thread's held
        #: stack for the step (lockorder._tasks.act_for)
        self.acting: ThreadState | None = None
        self.mirrored: list[Any] = []
        #: for a task's state: the thread acting for it now (``actor.acting`` is
        #: this state), else None: the checked asyncio Lock's ``async with``
        #: finds the mirror from it without a thread-local lookup
        self.actor: ThreadState | None = None
        #: a task made to run another task's Condition.wait() (asyncio.wait_for
        #: before 3.12, gather, ensure_future): that task's state, for whom the
        #: wait releases and re-acquires the lock (lockorder._aio.Condition)
        self.helper_for: ThreadState | None = None
        #: a task made only to run a checked asyncio acquire() that no task was
        #: waiting on when it started: the lock it ends holding passes to whichever
        #: task releases it (lockorder._tasks)
        self.handoff = False

    @property
    def kind(self) -> str:
        """How findings name this holder: ``"task"`` (an asyncio task's state) or
        ``"thread"``."""
        return "task" if self.task is not None else "thread"

    def __repr__(self) -> str:
        kind = "TaskState" if self.task is not None else "ThreadState"
        return f"<{kind} {self.name!r} serial={self.serial} held={len(self.held)}>"


def _drain(ts: ThreadState) -> None:
    """Forget the locks other threads released for this thread."""
    fresh: list[Any] = []  # allocated outside the lock: no GC callback runs under it
    with ts.mu:
        stolen, ts.stolen = ts.stolen, fresh
    held = ts.held
    for st in stolen:
        for index, entry in enumerate(held):
            if entry is st:
                _remove_at(ts, index)
                break


def _remove_at(ts: ThreadState, index: int) -> None:
    held, chains = ts.held, ts.chains
    del held[index]
    del chains[index:]
    top = chains[-1] if chains else None
    for entry in held[index:]:
        cid = entry._lo_cls.cid
        top = cid if top is None else hash((top, cid))
        chains.append(top)


_getrefcount = getattr(sys, "getrefcount", None)


def _refs_at(held: list[Any], index: int) -> int:
    assert _getrefcount is not None
    return _getrefcount(held[index])  # type: ignore[no-any-return]


class _Probe:
    __slots__ = ("__weakref__",)


#: the count _refs_at() gives for an object that only a list refers to
_ORPHAN_REFS = _refs_at([_Probe()], 0) if _getrefcount is not None else -1


def _probe_frame_refs() -> int:
    def ended() -> Any:
        return sys._getframe()

    frame = ended()
    assert _getrefcount is not None
    return _getrefcount(frame)  # type: ignore[no-any-return]


#: references to an ended frame that only one local name holds, as getrefcount sees them
_ENDED_FRAME_REFS = _probe_frame_refs() if _getrefcount is not None else -1


def prune_orphans(ts: ThreadState) -> bool:
    """Forget the held locks that nothing but this held stack refers to (the
    program dropped a lock while holding it): no thread can ever acquire or
    release them, so they order nothing, and forgetting them lets them be
    collected as without lockorder. Only the owning thread calls this (or its
    exit). Returns whether any was forgotten; never any without sys.getrefcount."""
    if _ORPHAN_REFS <= 0:
        return False
    held = ts.held
    pruned = False
    for index in range(len(held) - 1, -1, -1):
        refs = _refs_at(held, index)
        if refs == _ORPHAN_REFS + 1 and _drop_ended_frame(held[index]):
            refs = _refs_at(held, index)
        if refs <= _ORPHAN_REFS:
            _remove_at(ts, index)
            pruned = True
    return pruned


def _drop_ended_frame(st: Any) -> bool:
    """Let go of the frame that acquired ``st`` if that frame has ended and
    nothing else keeps it: its locals may be the one other reference to ``st``
    (a function took a lock of its own and returned holding it), which only the
    frame lockorder kept would keep alive. Returns whether it let go."""
    frame = getattr(st, "_lo_at", None)
    if frame is None:
        return False
    assert _getrefcount is not None
    # this function's name for it, getrefcount's argument and the lock's: a
    # running frame is also referenced by the interpreter
    if _getrefcount(frame) > _ENDED_FRAME_REFS + 1:
        return False
    import gc

    if not any(ref is st for ref in gc.get_referents(frame)):
        return False  # letting go would not free the lock: keep where it was taken
    st._lo_at = None
    del frame
    return True


def refresh_held(ts: ThreadState) -> bool:
    """Bring this thread's held stack up to date (its own thread only): forget
    the locks other threads released for it and those it dropped while held.
    Returns whether the stack changed."""
    changed = False
    if ts.stolen:
        _drain(ts)
        changed = True
    return prune_orphans(ts) or changed


def push(ts: ThreadState, st: Any) -> None:
    """Record that this thread now holds ``st`` (after a try or timed acquire)."""
    chains = ts.chains
    cid = st._lo_cls.cid
    chains.append(hash((chains[-1], cid)) if chains else cid)
    ts.held.append(st)


def pop(ts: ThreadState, st: Any) -> None:
    """Record that this thread no longer holds ``st`` (its most recent entry)."""
    held = ts.held
    if held and held[-1] is st:
        held.pop()
        ts.chains.pop()
        return
    for index in range(len(held) - 1, -1, -1):
        if held[index] is st:
            _remove_at(ts, index)
            return


def disown(st: Any) -> None:
    """``st`` was reset to unlocked (``_at_fork_reinit()``): no thread holds it now."""
    owner: ThreadState | None = st._lo_owner
    st._lo_owner = None
    if hasattr(st, "_lo_at"):
        st._lo_at = None  # keep no frame alive
    if owner is None:
        return
    me: ThreadState | None = getattr(_tls, "ts", None)
    if me is owner:
        pop(me, st)
    else:
        steal(owner, st)  # forgotten at the owner's next slow-path acquire


def steal(owner: ThreadState, st: Any) -> None:
    """Another thread released ``st``, which ``owner`` held."""
    with owner.mu:
        owner.stolen.append(st)


# -- what a held lock says of itself, for findings -----------------------------


def is_signal(st: Any) -> bool:
    """Whether ``st`` is used as a signal: declared so, or of a class seen released
    by another thread than its acquirer. Its "holder" owns nothing."""
    return st._lo_signal or st._lo_cls.signal  # type: ignore[no-any-return]


def lock_ref(st: Any) -> LockRef:
    """How a finding names the lock ``st``: its class."""
    cls: LockClass = st._lo_cls
    return LockRef(
        key=cls.key,
        site=cls.site,
        name=cls.name,
        kind=cls.kind,
        function=cls.function,
        via=cls.via,
    )


def label(st: Any) -> str:
    """The lock ``st``'s class as a finding's text names it."""
    cls: LockClass = st._lo_cls
    return cls.label


def held_site(st: Any) -> _sites.Frame | None:
    """Where the held lock ``st`` was acquired (None for semaphore units, and for
    a lock whose acquire is not known)."""
    return _sites.acquired_at(getattr(st, "_lo_at", None))


def where_taken(locks: list[Any]) -> tuple[tuple[_sites.Frame, ...], tuple[str, ...]]:
    """For a finding about held locks: where the innermost one was acquired (as
    the finding's stack) and a line per lock saying where it was acquired."""
    sites = [held_site(st) for st in locks]
    lines = tuple(
        f"{label(st)} acquired at {_sites.where(at)}"
        for st, at in zip(locks, sites, strict=True)
        if at is not None
    )
    known = [at for at in sites if at is not None]
    return (known[-1],) if known else (), lines
