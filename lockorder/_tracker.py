"""The tracker: the slow path that records edges, checks cycles and makes
findings, and the findings it made. The holders of locks are elsewhere: each
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

Every piece of shared state is guarded by ``_mu`` (lockorder._held.mu, which
also guards the thread registry); per-thread state is touched
only by its own thread, except the ``stolen`` list (guarded by the thread's own
``mu``), so nothing relies on the GIL.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import types
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lockorder import _config, _emit, _held, _sites, _threads, _unpatched
from lockorder._analysis import cycle_finding, cycle_signature
from lockorder._findings import SUPERSEDED_RULE, WITHDRAWN_PREFIX, Finding, LockRef
from lockorder._graph import (
    TAKEN_AT_LIMIT,
    TAKERS_LIMIT,
    WATCH_LIMIT,
    Edge,
    Evidence,
    LockClass,
    LockGraph,
    judge,
)
from lockorder._held import LockState, ThreadState, refresh_held
from lockorder._project import ProjectConfig
from lockorder.errors import (
    LockOrderWarning,
    hide_from_findings,
)

#: pytest shows none of this module's frames when a test fails with a finding
#: (lockorder.errors.hide_from_findings)
__tracebackhide__ = hide_from_findings

__all__ = ["LockState", "ThreadState"]

#: the mutex guarding everything below (lockorder._held.mu)
_mu = _held.mu


# -- global state (guarded by _mu) -------------------------------------------

settings = _config.settings_from_env(strict=False)
graph = LockGraph()
#: every finding in the order made (append-only: the pytest plugin indexes it)
_findings: list[Finding] = []
#: signatures of findings withdrawn since (see _withdraw_signal)
_withdrawn: set[str] = set()
_signatures: set[str] = set()
#: cycles that are not (yet) full findings: signature -> edges
_pending: dict[str, list[Edge]] = {}
_pending_by_edge: dict[int, set[str]] = {}
_dead_instances: list[int] = []
_serial = 0
#: the test running now (set by the pytest plugin), for attribution
current_test: str | None = None
#: bumped (under _mu) whenever an edge or finding is added or an edge's evidence changes
changes = 0
#: the project's [tool.lockorder] settings (ignore, allow, order, baseline), if loaded
project: ProjectConfig | None = None
#: (rule, finding) for each finding a rule of the project suppressed
suppressed: list[tuple[str, Finding]] = []
#: findings made and not yet logged (lockorder._emit.log_new), and the
#: signatures logged so far: a finding is logged once
_unlogged: list[Finding] = []
_logged: set[str] = set()
#: threading lock serial -> the asyncio task that took it last (see _tasks_took);
#: a lock's entry goes when the lock dies
_task_users: dict[int, int] = {}
#: a confirm rerun's steering (lockorder._steer.Steering), else None: the slow
#: path of a blocking acquire then pauses at the plan's edges
steering: Any = None


def next_serial() -> int:
    global _serial
    with _mu:
        _serial += 1
        return _serial


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
    global _serial
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
        cls = graph.lock_class(key, filename, site.lineno, site.function, name, kind, wrapper)
        cls.created += 1
        _serial += 1
        return cls, _serial


# -- the slow path ---------------------------------------------------------------


def is_signal(st: Any) -> bool:
    """Whether ``st`` is used as a signal: declared so, or of a class seen released
    by another thread than its acquirer. Its "holder" owns nothing."""
    return st._lo_signal or st._lo_cls.signal  # type: ignore[no-any-return]


def _ref(st: Any) -> LockRef:
    cls: LockClass = st._lo_cls
    return LockRef(
        key=cls.key,
        site=cls.site,
        name=cls.name,
        kind=cls.kind,
        function=cls.function,
        via=cls.via,
    )


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


def taken_lines(locks: list[tuple[str, LockClass]]) -> list[str]:
    """For each (label, class): the lines of the program seen taking a lock of
    the class, each with its threads."""
    lines = []
    for label, cls in locks:
        taken = dict(cls.taken_at)
        lines.append(f"{label} is taken at:" if taken else f"{label}: taken nowhere else")
        for frame, threads in taken.items():
            by = ", ".join(repr(thread) for thread in list(threads))
            lines.append(
                f"  {_sites.relpath(frame.filename)}:{frame.lineno} in {frame.function}"
                f" (by thread{'s' if len(threads) > 1 else ''} {by})"
            )
        if len(taken) >= TAKEN_AT_LIMIT:
            lines.append(f"  (the first {TAKEN_AT_LIMIT} places seen)")
    return lines


#: wait-while-holding findings whose "is taken at" lines say what the whole run
#: saw: signature -> (the details before them, (label, class) of each held lock,
#: the details after them); findings() and findings_since() write them anew
_takers: dict[str, tuple[tuple[str, ...], tuple[tuple[str, LockClass], ...], tuple[str, ...]]] = {}


def watch_takers(
    signature: str,
    before: tuple[str, ...],
    locks: tuple[tuple[str, LockClass], ...],
    after: tuple[str, ...],
) -> None:
    """The wait-while-holding finding ``signature`` lists the places that take
    ``locks``: from now on, every acquire of their classes goes the slow way,
    where its line is noted (each thread's known chains are forgotten, as by
    reset(), so the chains that take them are seen again), until a class has
    TAKEN_AT_LIMIT lines or WATCH_LIMIT more acquires; the finding is shown with
    every line the run saw."""
    with _mu:
        _takers[signature] = (before, locks, after)
        for _, cls in locks:
            if len(cls.taken_at) < TAKEN_AT_LIMIT:
                cls.watch_takes = WATCH_LIMIT
        for ts in _threads.by_serial.values():
            ts.known = set()  # a new set: the C hot path's memos name the old one


def _current(finding: Finding) -> Finding:
    """``finding`` with its takers' lines as the run has seen them so far (called
    under _mu)."""
    takers = _takers.get(finding.signature)
    if takers is None:
        return finding
    before, locks, after = takers
    details = (*before, *taken_lines(list(locks)), *after)
    if details == finding.details:
        return finding
    return dataclasses.replace(finding, details=details)


def held_site(st: Any) -> _sites.Frame | None:
    """Where the held lock ``st`` was acquired (None for semaphore units, and for
    a lock whose acquire is not known)."""
    return _sites.acquired_at(getattr(st, "_lo_at", None))


def where_taken(locks: list[Any]) -> tuple[tuple[_sites.Frame, ...], tuple[str, ...]]:
    """For a finding about held locks: where the innermost one was acquired (as
    the finding's stack) and a line per lock saying where it was acquired."""
    sites = [held_site(st) for st in locks]
    lines = tuple(
        f"{_label(st)} acquired at {_sites.where(at)}"
        for st, at in zip(locks, sites, strict=True)
        if at is not None
    )
    known = [at for at in sites if at is not None]
    return (known[-1],) if known else (), lines


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
    if error is None and steering is not None:
        steering.arrive(ts, st)  # a confirm rerun: maybe pause before the acquire
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
    global changes
    dst_cls: LockClass = st._lo_cls
    cacheable = True
    # the holder the edges are of: a thread, or the task whose step it runs
    who = ts.acting if ts.acting is not None else ts
    test = current_test
    evidence: Evidence | None = None
    if who.kind == "task":
        _tasks_took(who, held, st, new)
    for index, entry in enumerate(held):
        if entry is st or entry._lo_leaked:
            continue
        src_cls: LockClass = entry._lo_cls
        if is_signal(entry):
            # a signal's "holder" does not own it: another thread releases it,
            # so waiting while holding it blocks nobody (docs/concepts.md)
            continue
        gates = frozenset(
            below._lo_cid
            for below in held[:index]
            if not below._lo_sema
            and not below._lo_leaked
            and not is_signal(below)
            and below._lo_cls.created == 1
        )
        # two locks of one ordered acquisition: their order is that acquisition's
        # (an instance order), not evidence of a class order; a chain with such a
        # pair is not cached, so the same chain nested plainly is still recorded
        ordered = group is not None and id(entry) in group and id(st) in group
        if ordered:
            cacheable = False
        same_class = src_cls is dst_cls
        if same_class:
            # two locks of one class: checked per instance, every time
            cacheable = False
            edge = graph.instance_edge(entry._lo_serial, st._lo_serial)
        else:
            edge = graph.edge(src_cls.cid, dst_cls.cid)
        if edge is not None:
            _update_edge(edge, who, gates, test, new, ordered)
            continue
        if evidence is None:  # the stack is captured once, for the first new edge
            evidence = Evidence(
                who.name,
                who.serial,
                _sites.capture_stack(4) if stack is None else stack,
                tuple(_label(e) for e in held),
                test,
                tuple(held_site(e) for e in held),
                who.started_at,
                who.kind,
            )
        edge = Edge(src_cls.cid, dst_cls.cid, evidence, gates=gates, ordered=ordered)
        changes += 1
        edge.add_thread(who.serial, who.name)
        edge.add_test(test)
        if same_class:
            edge.instances = (entry._lo_serial, st._lo_serial)
            _watch_instance(entry)
            _watch_instance(st)
            cycle = graph.add_instance_edge(edge)
        else:
            if project is not None and project.order:
                _check_declared_order(entry, st, who, evidence, new)
            cycle = graph.add_edge(edge)
        if cycle:
            _on_cycle(cycle, who, new)
    ts.classes.add(dst_cls.cid)
    # (a confirm rerun keeps its target chains slow while the thread may pause)
    # (nor one of a class watched for its takers: each line taking it is noted, watch_takers)
    if (
        cacheable
        and key is not None
        and not dst_cls.watch_takes
        and (steering is None or not steering.keeps_slow(ts, dst_cls))
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
        previous = _task_users.get(lock._lo_serial)
        if previous is None:
            _watch_instance(lock)  # forgotten when the lock dies (_process_dead)
        _task_users[lock._lo_serial] = task.serial
        if previous is not None and previous != task.serial and not lock._lo_cls.shared:
            _now_shared(lock._lo_cls, task, new)


def _now_shared(cls: LockClass, ts: ThreadState, new: list[Finding]) -> None:
    """A lock of ``cls`` was taken by a second thread (or task): judge again the
    pending cycles through it, which may now be full. Called under ``_mu``."""
    cls.shared = True
    for cycle in list(_pending.values()):
        if any(edge.src == cls.cid or edge.dst == cls.cid for edge in cycle):
            _on_cycle(cycle, ts, new)


def _check_declared_order(
    held: Any, wanted: Any, ts: ThreadState, evidence: Evidence, new: list[Finding]
) -> None:
    """A declared order ([tool.lockorder] order) broken by a new edge: a finding
    at once, before any cycle forms (FreeBSD's WITNESS)."""
    assert project is not None
    first, second = _ref(held), _ref(wanted)
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
        test=current_test,
        signature=f"order-violation:declared:{first.key}>{second.key}",
    )
    if finding.signature not in _signatures and _add_finding(finding):
        new.append(finding)


def _label(st: Any) -> str:
    cls: LockClass = st._lo_cls
    return cls.label


def _update_edge(
    edge: Edge,
    ts: ThreadState,
    gates: frozenset[int],
    test: str | None,
    new: list[Finding],
    ordered: bool,
) -> None:
    global changes
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
        changes += 1
    if changed:
        changes += 1
        for signature in list(_pending_by_edge.get(id(edge), ())):
            cycle = _pending.get(signature)
            if cycle is not None:
                _on_cycle(cycle, ts, new)


def _watch_instance(st: Any) -> None:
    if st._lo_watched:
        return
    st._lo_watched = True
    serial = st._lo_serial
    try:
        weakref.finalize(st, _dead_instances.append, serial)
    except TypeError:  # pragma: no cover - every checked lock supports weak references
        pass


def _process_dead() -> None:
    while _dead_instances:
        serial = _dead_instances.pop()
        graph.forget_instance(serial)
        _task_users.pop(serial, None)


def _on_cycle(cycle: list[Edge], ts: ThreadState, new: list[Finding]) -> None:
    signature = cycle_signature(cycle, graph.classes)
    verdict = judge(cycle, graph.classes)
    level = verdict.level
    if level == "signal":  # a class stays a signal: nothing to watch
        return
    if level == "single-thread" and settings.single_thread == "strict":
        level = "full"
    if level == "full":
        _unpend(signature)
        full = signature + ":full"
        if full not in _signatures:
            finding = _cycle_finding(
                cycle, ts, full, single=verdict.level != "full", private=verdict.private
            )
            if _add_finding(finding):
                new.append(finding)
                _supersede(signature + ":single-thread")
        return
    # not (yet) a full finding: watch its edges, it may become one
    if signature not in _pending:
        _pending[signature] = cycle
        for edge in cycle:
            _pending_by_edge.setdefault(id(edge), set()).add(signature)
    if level == "single-thread" and settings.single_thread == "report":
        weak = signature + ":single-thread"
        if weak not in _signatures:
            finding = _cycle_finding(cycle, ts, weak, single=True, private=verdict.private)
            if _add_finding(finding):
                new.append(finding)


def _supersede(signature: str) -> None:
    """A cycle reported as a warning (seen in one thread only) is now a full
    finding: the warning moves to the suppressed list, so that one cycle is one
    finding (as ``lockorder merge`` keeps the stronger of two). Called under _mu."""
    if signature not in _signatures or signature in _withdrawn:
        return
    for finding in _findings:
        if finding.signature == signature:
            _withdrawn.add(signature)
            suppressed.append((SUPERSEDED_RULE, finding))
            return


def new_user(st: Any, ts: ThreadState) -> None:
    """``ts`` is about to acquire ``st``, which another thread (or none yet) took
    last. The first time a lock of a class is taken by a second thread, the class
    is shared: its cycles made by several threads each on locks of its own
    (graph.judge) may now be full. Raises the finding that makes, in raise mode
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


def _unpend(signature: str) -> None:
    cycle = _pending.pop(signature, None)
    if cycle:
        for edge in cycle:
            signatures = _pending_by_edge.get(id(edge))
            if signatures is not None:
                signatures.discard(signature)
                if not signatures:
                    del _pending_by_edge[id(edge)]


def _cycle_finding(
    cycle: list[Edge], ts: ThreadState, signature: str, single: bool, private: bool
) -> Finding:
    return cycle_finding(
        cycle,
        graph.classes,
        found_in=ts.name,
        single=single,
        policy=settings.single_thread,
        private=private,
        test=current_test,
        signature=signature,
    )


def _add_finding(finding: Finding) -> bool:
    """Record a new finding; False if the project's configuration suppresses it."""
    global changes
    changes += 1
    _signatures.add(finding.signature)
    if project is not None:
        rule = project.suppresses(finding)
        if rule is not None:
            suppressed.append((rule, finding))
            return False
    _findings.append(finding)
    _unlogged.append(finding)
    return True


def add_finding(finding: Finding) -> bool:
    """Record a finding made outside the slow path; False if it is a duplicate
    or suppressed. Call it holding none of lockorder's locks: it logs."""
    with _mu:
        if finding.signature in _signatures:
            return False
        added = _add_finding(finding)
    _emit.log_new()
    return added


def take_unlogged() -> list[Finding]:
    """The findings made since the last call that were not logged yet (one per
    signature), for lockorder._emit.log_new."""
    if not _unlogged:
        return []
    with _mu:
        taken = [f for f in _unlogged if f.signature not in _logged]
        _unlogged.clear()
        _logged.update(f.signature for f in taken)
        return taken


def amend_finding(signature: str, details: tuple[str, ...]) -> None:
    """Add ``details`` to the finding ``signature`` (what became known of it later:
    how long a lock left held at a test's end stayed held)."""
    global changes
    with _mu:
        for index, finding in enumerate(_findings):
            if finding.signature == signature:
                _findings[index] = dataclasses.replace(
                    finding, details=(*finding.details, *details)
                )
                changes += 1
                return


def withdraw_signal(cls: LockClass, why: str) -> None:
    """``cls`` turned out to be a signal: the cycles through edges out of it were
    no lock-order evidence, and a thread that ended (or a test that ended) with
    only signals taken leaked nothing. Forget the pending cycles; withdraw those
    findings to the suppressed list, saying why (reports show them there).
    Called under ``_mu`` (lockorder._discipline.learned_signal)."""
    global changes
    for signature, cycle in list(_pending.items()):
        if any(edge.src == cls.cid for edge in cycle):
            _unpend(signature)
    rule = f"{WITHDRAWN_PREFIX} {cls.label} {why}, so holding it blocks nobody"
    by_key = graph.by_key
    for finding in _findings:
        if finding.signature in _withdrawn:
            continue
        if finding.kind == "potential-deadlock":
            through = any(edge.src.key == cls.key for edge in finding.cycle)
        elif finding.kind in ("held-at-exit", "held-at-test-end"):
            # every lock it names turned out to be a signal: another thread released it
            through = all(
                (known := by_key.get(ref.key)) is not None and known.signal for ref in finding.locks
            )
        else:
            continue
        if through:
            _withdrawn.add(finding.signature)
            suppressed.append((rule, finding))
            changes += 1


# -- public helpers -------------------------------------------------------------------


def findings() -> list[Finding]:
    """The findings so far, less those withdrawn since."""
    with _mu:
        return [_current(f) for f in _findings if f.signature not in _withdrawn]


def findings_made() -> int:
    """How many findings were made so far, withdrawn ones included: a position in
    the append-only log that findings_since() takes (the pytest plugin's per-test
    slices)."""
    with _mu:
        return len(_findings)


def findings_since(start: int) -> tuple[list[Finding], int]:
    """The findings made from position ``start`` on and not withdrawn since, and
    the position after the last one made."""
    with _mu:
        found = [_current(f) for f in _findings[start:] if f.signature not in _withdrawn]
        return found, len(_findings)


def reset() -> None:
    """Forget every edge and finding; lock classes stay (they are code sites),
    and threads keep their held locks."""
    with _mu:
        graph.clear()
        _findings.clear()
        _withdrawn.clear()
        suppressed.clear()
        _unlogged.clear()
        _logged.clear()
        _signatures.clear()
        _pending.clear()
        _pending_by_edge.clear()
        _dead_instances.clear()
        _task_users.clear()
        for _, locks, _ in _takers.values():
            for _, cls in locks:
                cls.watch_takes = 0
        _takers.clear()
        for ts in _threads.by_serial.values():
            ts.known = set()  # a new set: the C hot path's memos name the old one


def configure(**changes: Any) -> _config.Settings:
    global settings
    with _mu:
        settings = _config.apply(settings, "lockorder.configure()", **changes)
        return settings


@contextmanager
def test_context(name: str | None) -> Iterator[None]:
    """Attribute what happens inside to ``name`` (used by the pytest plugin)."""
    global current_test
    previous = current_test
    current_test = name
    try:
        yield
    finally:
        current_test = previous
