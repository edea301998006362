"""The tracker: the slow path that records edges, checks cycles and makes
findings (kept in lockorder._state's findings store). The holders of locks are elsewhere: each
thread's state in lockorder._threads, its held stack in lockorder._held; the
lock-discipline findings and the signals they teach in lockorder._discipline;
how findings are raised, warned of or kept in lockorder._emit.

Fast path (an acquire whose held-lock chain this thread has already validated):
one thread-local lookup, one hash, one set lookup, two list appends. No global
lock, no stack capture.

Slow path (a chain this thread has not validated yet): under the internal
mutex ``_mu`` (a raw lock from :mod:`lockorder._unpatched`), record each edge
"held -> acquired" with its evidence, check it for a cycle, and turn cycles and
discipline errors into findings. Findings are emitted (warning, log, exception)
after ``_mu`` is released.

The shared state it records into is lockorder._state.s ``checker`` (the graph,
the findings store, the pending cycles), guarded by ``_mu`` (``checker.mu``);
per-thread state is touched only by its own thread, except the ``stolen`` list
(guarded by the thread's own ``mu``), so nothing relies on the GIL.
"""

from __future__ import annotations

import gc
import sys
import types
import weakref
from typing import Any

from lockorder import _config, _emit, _sites, _unpatched
from lockorder._analysis import cycle_finding, cycle_signature
from lockorder._findings import Finding
from lockorder._graph import (
    TAKEN_AT_LIMIT,
    TAKERS_LIMIT,
    Edge,
    Evidence,
    LockClass,
    judge,
)
from lockorder._held import (
    IdOrdered,
    LockState,
    ThreadState,
    held_site,
    is_signal,
    label,
    lock_ref,
    refresh_held,
)
from lockorder._state import checker
from lockorder.errors import (
    LockOrderWarning,
    hide_from_findings,
)

#: pytest shows none of this module's frames when a test fails with a finding
#: (lockorder.errors.hide_from_findings)
__tracebackhide__ = hide_from_findings

__all__ = ["LockState", "ThreadState"]

#: the checker's state, shared by every module (lockorder._state)
_mu = checker.mu


def site_key(filename: str, lineno: int, kind: str, wrapper: _sites.Frame | None = None) -> str:
    """The class key of an unnamed lock: its site, plus its kind unless a Lock, so
    that a Lock and a Semaphore made on one line (a ThreadPoolExecutor's) are two
    classes, plus the wrapper line that made it, if any, so that the locks a
    wrapper makes on two lines stay two classes."""
    key = f"{filename}:{lineno}" if kind == "Lock" else f"{filename}:{lineno}({kind})"
    return key if wrapper is None else f"{key} via {wrapper.filename}:{wrapper.lineno}"


def _absolute(filename: str) -> str:
    # code objects of a script run by a relative path carry that path: a class
    # key must not depend on the working directory. No os.path.abspath() here:
    # a lock's creation makes no filesystem or blocking call (docs/concepts.md)
    return _sites.absolute(filename)


def register(site: _sites.Site, name: str | None, kind: str) -> tuple[LockClass, int]:
    """The class of a new lock, and its creation serial (one trip through _mu)."""
    filename = _absolute(site.filename)
    wrapper = site.wrapper
    if wrapper is not None:
        wrapper = wrapper._replace(filename=_absolute(wrapper.filename))
    key = name if name is not None else site_key(filename, site.lineno, kind, wrapper)
    if _config._pending:  # lockorder's first use: the environment's problems, told once
        _config.warn_pending()
    if not _gc_hooked:
        _hook_gc()
    with _mu:
        cls = checker.graph.lock_class(
            key, filename, site.lineno, site.function, name, kind, wrapper
        )
        cls.created += 1
        return cls, checker.next_serial()


# -- the slow path ---------------------------------------------------------------


def first_take(ts: ThreadState, st: Any) -> None:
    """The thread's first blocking acquire of ``st``'s class with nothing held
    (every one, for a class watched for its takers)."""
    cid = st._lo_cid
    cls = st._lo_cls
    if not cls.watch_takes:
        ts.known.add(cid)
    ts.classes.add(cid)
    note_taken(cls, ts)


def note_taken(cls: LockClass, ts: ThreadState) -> None:
    """Remember the line of the program that is taking a lock of ``cls``."""
    taken = cls.taken_at
    if cls.watch_takes:
        cls.watch_takes -= 1  # (0: the class's chains are known again from here on)
        frame = _sites.taker_line(2)
    else:
        frame = _sites.user_frame(2)
    if frame is None:
        return
    threads = taken.get(frame)
    if threads is None:
        if len(taken) < TAKEN_AT_LIMIT:
            taken[frame] = [ts.name]
        else:
            cls.watch_takes = 0  # no more lines can be noted: known chains again
    elif len(threads) < TAKERS_LIMIT and ts.name not in threads:
        threads.append(ts.name)


def record(ts: ThreadState, st: Any, key: int | None) -> None:
    """Record the edges held -> ``st`` of a blocking acquire (the slow path).

    Adds ``key`` to the thread's validated chains unless the chain involves two
    locks of one class (those are checked per instance, every time). Raises
    :class:`PotentialDeadlockError` in raise mode when a full cycle closes.
    """
    acting = ts.acting
    if acting is not None:
        from lockorder import _tasks  # (a thread acts for a task only once asyncio runs)

        if _tasks.recheck(ts):
            key = None  # the held stack changed under the key
            acting = ts.acting
    note_taken(st._lo_cls, ts)
    for held in ts.held:
        # holding a lock while waiting for another shares it, however it was taken
        # (a task's asyncio lock mirrored on its thread stays the task's)
        user = held._lo_user
        if user is not ts and (acting is None or user is not acting) and not ts.suppress:
            new_user(held, ts)
    error = _record(ts, st, key)
    if error is not None:
        raise error


def record_held(ts: ThreadState, held: list[Any], st: Any) -> None:
    """Record the edges ``held`` -> ``st`` of an acquire by ``ts`` whose own held
    stack does not show them (a task taking an asyncio lock while its thread
    holds threading locks); not cached: a rare shape, and a warned one."""
    error = _record(ts, st, None, held)
    if error is not None:
        raise error


def slow_acquire(ts: ThreadState, st: Any, key: int) -> int:
    """The slow path of a blocking acquire whose chain this thread has not
    validated: forget locks other threads released for us, then record.
    Returns the chain key to push (it changes if the held stack did)."""
    if refresh_held(ts):
        chains = ts.chains
        cid = st._lo_cid
        key = hash((chains[-1], cid)) if chains else cid
        if not chains or key in ts.known:
            return key
    record(ts, st, key)
    return key


# -- finalizers run by the cyclic GC ----------------------------------------------

#: the thread the cyclic GC collects in, while it does (it runs the finalizers
#: of the garbage, __del__ and weakref callbacks, there); else None
_collecting: int | None = None
#: heap reads (_garbage_only) left for the collection running: each reads the
#: whole heap; past them, a finalizer's acquire makes its edges as any other
_GARBAGE_LOOKS = 16
_looks_left = 0


#: the id of the program's frame that was running when the collection began:
#: the frames inside it are the finalizers' and lockorder's
_gc_frame = 0


def _gc_phase(phase: str, info: dict[str, Any]) -> None:
    global _collecting, _looks_left, _gc_frame
    if phase == "start":
        try:
            _gc_frame = id(sys._getframe(1))
        except ValueError:  # pragma: no cover - a collection with no Python frame
            _gc_frame = 0
        _collecting = _unpatched.get_ident()
        _looks_left = _GARBAGE_LOOKS
    else:
        _collecting = None


def _hook_gc() -> None:
    """Follow the cyclic GC's collections from the first checked lock on (none
    made: nothing of lockorder's runs at a collection)."""
    global _gc_hooked
    _gc_hooked = True
    if _gc_phase not in gc.callbacks:
        gc.callbacks.append(_gc_phase)


_gc_hooked = False


def _garbage_only(st: Any) -> bool:
    """Whether nothing alive refers to the lock ``st``: only garbage the cyclic GC
    is finalizing does (no referrer while the GC runs), and this thread's calls
    inside the collection (the finalizer's frames and lockorder's, and a bound
    ``st.__enter__`` or ``st.acquire`` they hold). The program's frames outside
    the collection are alive: a lock one of them refers to can be taken again."""
    here = set()
    frame: types.FrameType | None = sys._getframe()
    while frame is not None and id(frame) != _gc_frame:
        here.add(id(frame))
        frame = frame.f_back
    del frame
    return not _alive(st, gc.get_referrers(st), here, 1)


def _alive(st: Any, referrers: list[Any], here: set[int], depth: int) -> bool:
    """Whether one of ``referrers`` (of ``st``, or of a bound method of it) is
    not this thread's own (``here``: its frames, the lists of referrers)."""
    here.add(id(referrers))
    for referrer in referrers:
        if id(referrer) in here:
            continue
        if (
            depth
            and getattr(referrer, "__self__", None) is st
            and not _alive(st, gc.get_referrers(referrer), here, 0)
        ):
            continue
        return True
    return False


def made_by_finalizer(st: Any) -> bool:
    """An acquire a finalizer run by the cyclic GC makes, of a lock that only the
    garbage refers to: no other thread holds it or can take it, so it makes no
    edge (docs/concepts.md, "Finalizers")."""
    global _looks_left
    if _collecting != _unpatched.get_ident() or _looks_left <= 0:
        return False
    _looks_left -= 1
    return _garbage_only(st)


def _record(
    ts: ThreadState, st: Any, key: int | None, held: list[Any] | None = None
) -> LockOrderWarning | Exception | None:
    if ts.suppress:
        return None
    if _collecting is not None and made_by_finalizer(st):
        return None
    if ts.busy:
        # Re-entered (a __del__ or weakref callback during our own slow path):
        # remember the acquire, the outer call records it when it is done.
        ts.deferred.append((list(ts.held), st, 0, _sites.capture_stack(3)))
        return None
    ts.busy = True
    new: list[Finding] = []
    try:
        with _mu:
            _process_dead()
            group = ts.groups[-1] if ts.groups else None
            _record_locked(ts, ts.held if held is None else held, st, key, None, new, group)
            while ts.deferred:
                held, dst, _, stack = ts.deferred.pop(0)
                _record_locked(ts, held, dst, None, stack, new, None)
    except Exception as exc:  # bookkeeping must never break the user's program
        _emit.internal_error(exc)
    finally:
        ts.busy = False
    error = _emit.emit(new, ts)
    if error is None and checker.steering is not None:
        checker.steering.arrive(ts, st)  # a confirm rerun: maybe pause before the acquire
    return error


def _record_locked(
    ts: ThreadState,
    held: list[Any],
    st: Any,
    key: int | None,
    stack: tuple[_sites.Frame, ...] | None,
    new: list[Finding],
    group: frozenset[int] | None,
) -> None:
    dst_cls: LockClass = st._lo_cls
    cacheable = True
    # the holder the edges are of: a thread, or the task whose step it runs
    who = ts.acting if ts.acting is not None else ts
    test = checker.current_test
    evidence: Evidence | None = None
    if who.kind == "task":
        _tasks_took(who, held, st, new)
    # the gates of each held lock: the locks below it alone in their class, grown as
    # the loop goes up (not recomputed per entry: a thread holding n locks, as
    # concurrent.futures.wait() holds every future's condition, costs n, not n**2)
    gates: frozenset[int] = frozenset()
    below: Any = None
    for entry in held:
        if (
            below is not None
            and not below._lo_sema
            and not below._lo_leaked
            and below._lo_cls.created == 1
            and below._lo_cid not in gates
            and not is_signal(below)
        ):
            gates = gates | {below._lo_cid}
        below = entry
        if entry is st or entry._lo_leaked:
            continue
        src_cls: LockClass = entry._lo_cls
        if is_signal(entry):
            # a signal's "holder" does not own it: another thread releases it,
            # so waiting while holding it blocks nobody (docs/concepts.md)
            continue
        # two locks of one ordered acquisition: their order is that acquisition's
        # (an instance order), not evidence of a class order; a chain with such a
        # pair is not cached, so the same chain nested plainly is still recorded
        ordered = group is not None and id(entry) in group and id(st) in group
        if ordered:
            cacheable = False
        same_class = src_cls is dst_cls
        if ordered and same_class and type(group) is IdOrdered:
            # two of the conditions concurrent.futures' wait() takes in id() order,
            # the only code that nests them: one order over all the instances, so
            # no edge (n futures would make n**2 of them, each looked at)
            continue
        if same_class:
            # two locks of one class: checked per instance, every time
            cacheable = False
            edge = checker.graph.instance_edge(entry._lo_serial, st._lo_serial)
        else:
            edge = checker.graph.edge(src_cls.cid, dst_cls.cid)
        if edge is not None:
            _update_edge(edge, who, gates, test, new, ordered)
            continue
        if evidence is None:  # the stack is captured once, for the first new edge
            evidence = Evidence(
                who.name,
                who.serial,
                _sites.capture_stack(4) if stack is None else stack,
                tuple(label(e) for e in held),
                test,
                tuple(held_site(e) for e in held),
                who.started_at,
                who.kind,
            )
        edge = Edge(src_cls.cid, dst_cls.cid, evidence, gates=gates, ordered=ordered)
        checker.changed()
        edge.add_thread(who.serial, who.name)
        edge.add_test(test)
        if same_class:
            edge.instances = (entry._lo_serial, st._lo_serial)
            _watch_instance(entry)
            _watch_instance(st)
            cycle = checker.graph.add_instance_edge(edge)
        else:
            if checker.project is not None and checker.project.order:
                _check_declared_order(entry, st, who, evidence, new)
            cycle = checker.graph.add_edge(edge)
        if cycle:
            _on_cycle(cycle, who, new)
    ts.classes.add(dst_cls.cid)
    # (a confirm rerun keeps its target chains slow while the thread may pause)
    # (nor one of a class watched for its takers: each line taking it is noted, watch_takers)
    if (
        cacheable
        and key is not None
        and not dst_cls.watch_takes
        and (checker.steering is None or not checker.steering.keeps_slow(ts, dst_cls))
    ):
        ts.known.add(key)


def _tasks_took(task: ThreadState, held: list[Any], st: Any, new: list[Finding]) -> None:
    """A task's step makes edges into ``st``: the task takes ``st`` and the held
    locks, before the edges are judged. A threading lock's user is the thread
    (new_user), which does not tell the tasks of one loop apart, though a task
    holding it across an await blocks the others: a threading lock two tasks took
    is shared too. Noted on this slow path only (the fast path sees the thread)."""
    for lock in (*held, st):
        if lock._lo_user is task or lock._lo_leaked or lock._lo_cls.kind == "event loop":
            continue  # a task's own asyncio lock (its user is the task), or the loop
        previous = checker.task_users.get(lock._lo_serial)
        if previous is None:
            _watch_instance(lock)  # forgotten when the lock dies (_process_dead)
        checker.task_users[lock._lo_serial] = task.serial
        if previous is not None and previous != task.serial and not lock._lo_cls.shared:
            _now_shared(lock._lo_cls, task, new)


def _now_shared(cls: LockClass, ts: ThreadState, new: list[Finding]) -> None:
    """A lock of ``cls`` was taken by a second thread (or task): judge again the
    pending cycles through it, which may now be full. Called under ``_mu``."""
    cls.shared = True
    for cycle in list(checker.pending.values()):
        if any(edge.src == cls.cid or edge.dst == cls.cid for edge in cycle):
            _on_cycle(cycle, ts, new)


def _check_declared_order(
    held: Any, wanted: Any, ts: ThreadState, evidence: Evidence, new: list[Finding]
) -> None:
    """A declared order ([tool.lockorder] order) broken by a new edge: a finding
    at once, before any cycle forms (FreeBSD's WITNESS)."""
    project = checker.project
    assert project is not None
    first, second = lock_ref(held), lock_ref(wanted)
    a = project.order_position(first)
    b = project.order_position(second)
    if a is None or b is None or a[0] != b[0] or a[1] < b[1]:
        return
    names = project.order[a[0]]
    finding = Finding(
        kind="order-violation",
        severity="error",
        message=f"{ts.kind} {ts.name!r} acquired {second.label} while holding {first.label}; "
        f"the declared order is {' -> '.join(names)}",
        locks=(first, second),
        thread=ts.name,
        holder=ts.kind,
        stack=evidence.stack,
        reason=f"[tool.lockorder] order in {project.path} says {names[b[1]]!r} comes before "
        f"{names[a[1]]!r}",
        test=checker.current_test,
        signature=f"order-violation:declared:{first.key}>{second.key}",
    )
    if finding.signature not in checker.signatures and checker.add_locked(finding):
        new.append(finding)


def _update_edge(
    edge: Edge,
    ts: ThreadState,
    gates: frozenset[int],
    test: str | None,
    new: list[Finding],
    ordered: bool,
) -> None:
    changed = edge.add_thread(ts.serial, ts.name)
    if edge.ordered and not ordered:
        edge.ordered = False
        changed = True
    narrowed = edge.gates & gates
    if narrowed != edge.gates:
        edge.gates = narrowed
        changed = True
    if test is not None and test not in edge.tests:
        edge.add_test(test)
        checker.changed()
    if changed:
        checker.changed()
        for signature in list(checker.pending_by_edge.get(id(edge), ())):
            cycle = checker.pending.get(signature)
            if cycle is not None:
                _on_cycle(cycle, ts, new)


def _watch_instance(st: Any) -> None:
    if st._lo_watched:
        return
    st._lo_watched = True
    serial = st._lo_serial
    try:
        weakref.finalize(st, checker.dead_instances.append, serial)
    except TypeError:  # pragma: no cover - every checked lock supports weak references
        pass


def _process_dead() -> None:
    while checker.dead_instances:
        serial = checker.dead_instances.pop()
        checker.graph.forget_instance(serial)
        checker.task_users.pop(serial, None)


def _on_cycle(cycle: list[Edge], ts: ThreadState, new: list[Finding]) -> None:
    signature = cycle_signature(cycle, checker.graph.classes)
    verdict = judge(cycle, checker.graph.classes)
    level = verdict.level
    if level == "signal":  # a class stays a signal: nothing to watch
        return
    if level == "single-thread" and checker.settings.single_thread == "strict":
        level = "full"
    if level == "full":
        checker.unpend(signature)
        full = signature + ":full"
        if full not in checker.signatures:
            finding = _cycle_finding(
                cycle, ts, full, single=verdict.level != "full", private=verdict.private
            )
            if checker.add_locked(finding):
                new.append(finding)
                checker.supersede(signature + ":single-thread")
        return
    # not (yet) a full finding: watch its edges, it may become one
    if signature not in checker.pending:
        checker.pending[signature] = cycle
        for edge in cycle:
            checker.pending_by_edge.setdefault(id(edge), set()).add(signature)
    if level == "single-thread" and checker.settings.single_thread == "report":
        weak = signature + ":single-thread"
        if weak not in checker.signatures:
            finding = _cycle_finding(cycle, ts, weak, single=True, private=verdict.private)
            if checker.add_locked(finding):
                new.append(finding)


def new_user(st: Any, ts: ThreadState) -> None:
    """``ts`` is about to acquire ``st``, which another thread (or none yet) took
    last. The first time a lock of a class is taken by a second thread, the class
    is shared: its cycles made by several threads each on locks of its own
    (lockorder._graph.judge) may now be full. Raises the finding that makes, in raise mode
    (called before the acquire)."""
    previous = st._lo_user
    st._lo_user = ts
    cls: LockClass = st._lo_cls
    if previous is None or cls.shared or ts.suppress:
        return
    if ts.busy:  # re-entered from our own slow path: mark it, judge later
        cls.shared = True
        return
    new: list[Finding] = []
    ts.busy = True
    try:
        with _mu:  # two threads may both get here: judging twice finds nothing new
            _now_shared(cls, ts, new)
    except Exception as exc:  # bookkeeping must never break the user's program
        _emit.internal_error(exc)
    finally:
        ts.busy = False
    error = _emit.emit(new, ts)
    if error is not None:
        raise error


def _cycle_finding(
    cycle: list[Edge], ts: ThreadState, signature: str, single: bool, private: bool
) -> Finding:
    return cycle_finding(
        cycle,
        checker.graph.classes,
        found_in=ts.name,
        single=single,
        policy=checker.settings.single_thread,
        private=private,
        test=checker.current_test,
        signature=signature,
    )
