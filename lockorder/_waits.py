"""Waiting while holding: joins, futures and the other waits, checked under install().

The rules (docs/deadlocks.md):

* ``Thread.join()`` and ``Future.result()``: the waited-for side is known. If the
  joined thread (or the work item running the future) acquires, or in this run
  acquired, a lock class the waiting thread holds while it waits, that is a
  ``join-while-holding`` finding (an error, like a lock-order cycle), found
  whether or not the run hung. While it waits, the waiting thread takes part in
  the wait-for check of docs/deadlocks.md, so a real hang is broken.
* ``Event.wait()``, ``Barrier.wait()``, ``Condition.wait()`` (on another
  condition than the locks held), a blocking ``Queue.get()``, and a blocking
  ``Queue.put()`` on a bounded queue: who will end the wait is not known. An
  untimed such wait while holding a checked lock is a ``wait-while-holding``
  warning, once per call site and set of held locks. A wait with a timeout
  cannot hang forever and is not reported.

Only checked ``Lock``/``RLock`` holds count (not semaphores), and for the
join/future rule only locks alone in their class (a class made once).
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.thread
import copy
import queue
import sys
import threading
from types import FrameType
from typing import Any

import wrapt

from lockorder import _deadlock, _emit, _graph, _held, _sites, _threads
from lockorder._findings import Finding
from lockorder._state import checker
from lockorder.errors import hide_from_findings

#: pytest shows none of this module's frames when a test fails with a finding
#: (lockorder.errors.hide_from_findings)
__tracebackhide__ = hide_from_findings

__all__ = ["patch", "unpatch"]

_PATCHES: list[tuple[Any, str]] = []


def _held_locks(ts: _held.ThreadState | None, exclude: Any = None) -> list[Any]:
    """The locks this thread (``ts`` is its own state) holds as a wait begins:
    not those other threads released for it, nor those it dropped while held."""
    if ts is None or not ts.held:
        return []
    _held.refresh_held(ts)
    return [st for st in list(ts.held) if not st._lo_sema and st is not exclude]


def _state() -> _held.ThreadState | None:
    return _held._tls.__dict__.get("ts")


# -- join and future: the waker is known ------------------------------------------------


def _latent(
    ts: _held.ThreadState,
    held: list[Any],
    target: _held.ThreadState | None,
    classes: set[int] | None,
    what: str,
    worker: str,
    stack: tuple[_sites.Frame, ...],
) -> None:
    if classes is None and target is not None:
        classes = target.classes
    if not classes:
        return
    # only a lock alone in its class: for a class with several locks, "the worker
    # took a lock of this class" does not say it took the one held here
    taken = [st for st in held if st._lo_cid in classes and st._lo_cls.created == 1]
    if not taken:
        return
    refs = tuple(_held.lock_ref(st) for st in taken)
    names = ", ".join(ref.label for ref in refs)
    _, acquired = _held.where_taken(taken)
    finding = Finding(
        kind="join-while-holding",
        severity="error",
        message=f"thread {ts.name!r} waited on {what} while holding {names}, "
        f"which {worker} acquires",
        locks=refs,
        thread=ts.name,
        stack=stack,
        reason=f"if {worker} takes {refs[0].label} while {ts.name!r} holds it and waits, "
        "both wait forever; found whether or not this run hung",
        test=checker.current_test,
        signature=f"join-while-holding:{what.split('(')[0]}:"
        + "|".join(ref.key for ref in refs)
        + (f"@{stack[-1].filename}:{stack[-1].lineno}" if stack else ""),
        details=(
            *acquired,
            "possible scenario:",
            f"  {ts.name}: lock({refs[0].label})",
            f"  {worker}: lock({refs[0].label})  <- waits",
            f"  {ts.name}: {what}  <- waits",
            "  *** DEADLOCK ***",
        ),
    )
    if _emit.add_finding(finding):
        error = _emit.emit([finding], ts)
        if error is not None:
            raise error


def _waiting(
    ts: _held.ThreadState,
    label: str,
    owner: Any,
    wait_slice: Any,
    done: Any,
    on_slice: Any,
) -> None:
    """Wait in slices, taking part in the wait-for check between them."""
    period = checker.settings.deadlock_check or 0.2
    waitable = _deadlock.Waitable(label, owner())
    ts.wait_since = _deadlock.monotonic()
    ts.wait_restore = False
    ts.waiting_on = waitable
    try:
        while True:
            wait_slice(period)
            if done():
                return
            waitable.owner = owner()
            on_slice()
            if checker.settings.deadlock_check > 0:
                _deadlock.check(ts)
    finally:
        ts.waiting_on = None


def _join(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    ts = _state()
    held = _held_locks(ts)
    if ts is None or not held:
        return wrapped(*args, **kwargs)
    timeout = args[0] if args else kwargs.get("timeout")
    stack = _sites.capture_stack(2)
    what = f"join({instance.name!r})"
    worker = f"thread {instance.name!r}"

    def target() -> Any:
        return getattr(instance, "_lo_state", None)

    def check_latent() -> None:
        _latent(ts, held, target(), None, what, worker, stack)

    if timeout is not None:
        result = wrapped(*args, **kwargs)
    else:
        _waiting(
            ts, what, target, lambda t: wrapped(t), lambda: not instance.is_alive(), check_latent
        )
        result = None
    check_latent()
    return result


def _run_item(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """A ThreadPoolExecutor work item: record the classes it acquires."""
    ts = _threads.current()
    future = instance.future
    saved_known, saved_classes = ts.known, ts.classes
    ts.known, ts.classes = set(), set()
    future._lo_runner = ts
    try:
        return wrapped(*args, **kwargs)
    finally:
        future._lo_classes = ts.classes
        saved_classes |= ts.classes
        ts.known, ts.classes = saved_known, saved_classes


def _result(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    ts = _state()
    timeout = args[0] if args else kwargs.get("timeout")
    loop = getattr(instance, "_lo_loop", None)
    if loop is not None and ts is not None:
        # a coroutine of an event loop (run_coroutine_threadsafe): waiting for
        # the loop, which code on it holds (lockorder._loops); the edges count
        # even when this time the coroutine was done before the wait began
        from lockorder import _loops

        error = _loops.waiting_for_loop(ts, loop, timeout, instance.done())
        if error is not None:
            raise error
    held = _held_locks(ts)
    if ts is None or not held:
        return wrapped(*args, **kwargs)
    stack = _sites.capture_stack(2)
    what = "Future.result()"
    worker = "the work item running the future"

    def runner() -> Any:
        if loop is not None:  # the thread running the loop runs the coroutine
            return getattr(getattr(loop, "_lo_loop_lock", None), "_lo_owner", None)
        return getattr(instance, "_lo_runner", None)

    def check_latent() -> None:
        if loop is not None:
            return  # the edges "held -> loop" say it (a cycle through the loop)
        _latent(ts, held, runner(), getattr(instance, "_lo_classes", None), what, worker, stack)

    if timeout is None and not instance.done():

        def wait_slice(period: float) -> None:
            concurrent.futures.wait([instance], timeout=period)

        _waiting(ts, what, runner, wait_slice, instance.done, check_latent)
    try:
        return wrapped(*args, **kwargs)
    finally:
        check_latent()


# -- waits whose waker is not known ---------------------------------------------------------


def _from_threading() -> bool:
    """Whether the wait was called by threading itself (Thread.start() waits for
    the new thread's start-up, which takes no lock of the program)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (isinstance(module, str) and module.startswith(("lockorder", "wrapt"))):
            return bool(module == "threading")
        frame = frame.f_back
    return False


def _waited_in(frame: FrameType | None, what: str) -> str:
    """The standard library call the program made that waits: ``Queue.join()``
    for the ``Condition.wait()`` inside it; ``what`` when the program waited
    directly."""
    outermost = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not isinstance(module, str):
            module = ""
        if not _sites.is_skipped(module):
            break
        if not module.startswith(("lockorder", "wrapt")):
            outermost = frame
        frame = frame.f_back
    if outermost is None:
        return what
    name = _sites.qualname(outermost)
    if "." not in name:  # a module's function: concurrent.futures.wait()
        module = str(outermost.f_globals.get("__name__", ""))
        public = [part for part in module.split(".") if not part.startswith("_")]
        name = ".".join([*public, name])
    return f"{name}() (inside it: {what})"


def _report_wait(what: str, exclude: Any = None, inner: int = 0) -> None:
    """Report the wait ``what`` of the caller's caller; ``inner``: the wait is
    that many frames further in (a put's not_full.wait(), reported as the put's)."""
    ts = _state()
    held = _held_locks(ts, exclude)
    if ts is None or not held or (ts.in_wait and not inner) or _from_threading():
        return
    stack = _sites.capture_stack(3 + inner)
    refs = tuple(_held.lock_ref(st) for st in held)
    where = f"{stack[-1].filename}:{stack[-1].lineno}" if stack else "?"
    waited = _waited_in(sys._getframe(2 + inner), what)
    program = _sites.user_frame(2)
    details = [
        f"the wait: {waited}"
        + (
            f" at {_sites.relpath(program.filename)}:{program.lineno} in {program.function}"
            if program is not None
            else ""
        )
    ]
    details.extend(_held.where_taken(held)[1])
    before = tuple(details)
    locks = tuple((ref.label, st._lo_cls) for st, ref in zip(held, refs, strict=True))
    details.extend(_graph.taken_lines(list(locks)))
    after = (
        (f"thread {ts.name!r} was {_sites.started_text(ts.started_at)}",) if ts.started_at else ()
    )
    details.extend(after)
    signature = f"wait-while-holding:{what}:{where}:" + "|".join(ref.key for ref in refs)
    finding = Finding(
        kind="wait-while-holding",
        severity="warning",
        message=f"thread {ts.name!r} waited in {waited.partition(' (')[0]} while holding "
        + ", ".join(ref.label for ref in refs),
        locks=refs,
        thread=ts.name,
        stack=stack,
        reason="if one of the places that take these locks runs in the thread that would end "
        "this wait (its put(), set(), notify() or task_done()) before it does, both wait "
        "forever; lockorder cannot know which thread that is (a timed wait is not reported)",
        test=checker.current_test,
        signature=signature,
        details=tuple(details),
    )
    if _emit.add_finding(finding):
        # every place the rest of the run takes these locks joins the list
        checker.watch_takers(signature, before, locks, after)
        _emit.emit([finding], ts)


def _quiet(wrapped: Any, args: Any, kwargs: Any) -> Any:
    """Run a stdlib wait whose inner Condition.wait() must not report again."""
    ts = _state()
    if ts is None:
        return wrapped(*args, **kwargs)
    ts.in_wait += 1
    try:
        return wrapped(*args, **kwargs)
    finally:
        ts.in_wait -= 1


def _arg(args: Any, kwargs: Any, index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _event_wait(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    if _arg(args, kwargs, 0, "timeout", None) is None:  # set already or not: timing luck
        _report_wait("Event.wait()")
    return _quiet(wrapped, args, kwargs)


def _barrier_wait(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    timeout = _arg(args, kwargs, 0, "timeout", None)
    if timeout is None and getattr(instance, "_timeout", None) is None:
        _report_wait("Barrier.wait()")
    return _quiet(wrapped, args, kwargs)


def _condition_wait(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    if _arg(args, kwargs, 0, "timeout", None) is None:
        lock = getattr(instance, "_lock", None)
        own = getattr(lock, "_self_state", lock)  # a wrap() proxy's shadow lock
        ts = _state()
        putting = None if ts is None else ts.put_into
        if putting is not None and instance is getattr(putting, "not_full", None):
            # the queue had room when the put began and is full now: the put waits
            # (frames: this, Queue.put(), _queue_put(), the program)
            _report_wait(_BOUNDED_PUT, exclude=own, inner=2)
        else:
            _report_wait("Condition.wait()", exclude=own)
    return _quiet(wrapped, args, kwargs)


def _queue_get(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    block = _arg(args, kwargs, 0, "block", True)
    if block and _arg(args, kwargs, 1, "timeout", None) is None:
        _report_wait("Queue.get()")
    return _quiet(wrapped, args, kwargs)


_BOUNDED_PUT = "Queue.put() on a bounded queue"


def _queue_put(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """A blocking put waits only if the bounded queue is full: reported when it is
    full as the put begins (read without the queue's mutex, which is a lock of
    the program's), or when it becomes full before the put takes the mutex (the
    put's wait on its not_full condition). A put into a queue with room is no wait."""
    block = _arg(args, kwargs, 1, "block", True)
    if not (block and instance.maxsize > 0 and _arg(args, kwargs, 2, "timeout", None) is None):
        return _quiet(wrapped, args, kwargs)
    try:
        full = instance._qsize() >= instance.maxsize
    except Exception:  # a subclass's own storage that cannot say: as if full
        full = True
    if full:
        _report_wait(_BOUNDED_PUT)
        return _quiet(wrapped, args, kwargs)
    ts = _state()
    if ts is None:
        return wrapped(*args, **kwargs)
    outer = ts.put_into
    ts.put_into = instance
    ts.in_wait += 1
    try:
        return wrapped(*args, **kwargs)
    finally:
        ts.in_wait -= 1
        ts.put_into = outer


def _acquire_futures(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """``wait()`` and ``as_completed()`` lock every future's condition in ``id()``
    order, one global order over the instances: an ordered acquisition."""
    from lockorder._wrap import is_checked, state_of

    ts = _threads.current()
    conditions = [getattr(future, "_condition", None) for future in instance.futures]
    ts.groups.append(_held.IdOrdered(id(state_of(c)) for c in conditions if is_checked(c)))
    try:
        return wrapped(*args, **kwargs)
    finally:
        ts.groups.pop()


def _start(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Remember the program's line that starts a thread: findings that name the
    thread show it, so a finding made in a worker leads back to the test."""
    try:
        instance._lo_started_at = _sites.program_stack(2)
    except Exception:  # a Thread subclass with __slots__ and no __dict__: unknown
        pass
    return wrapped(*args, **kwargs)


_TARGETS: list[tuple[Any, str, Any]] = [
    (threading.Thread, "start", _start),
    (threading.Thread, "join", _join),
    (concurrent.futures.thread._WorkItem, "run", _run_item),
    (concurrent.futures.Future, "result", _result),
    (concurrent.futures._base._AcquireFutures, "__enter__", _acquire_futures),
    (threading.Event, "wait", _event_wait),
    (threading.Barrier, "wait", _barrier_wait),
    (threading.Condition, "wait", _condition_wait),
    (queue.Queue, "get", _queue_get),
    (queue.Queue, "put", _queue_put),
]


class _BoundPatched(wrapt.BoundFunctionWrapper):  # type: ignore[type-arg,unused-ignore]
    """A patched method as an attribute (``threading.Event.wait``, ``event.wait``)."""

    # copied as the original is: a method got from the class is the function
    # itself, one bound to an object copies that object (a wrapt proxy refuses both)
    def __copy__(self) -> Any:
        return self if self._self_instance is None else copy.copy(self.__wrapped__)

    def __deepcopy__(self, memo: Any) -> Any:
        if self._self_instance is None:
            return self
        return copy.deepcopy(self.__wrapped__, memo)


class _Patched(wrapt.FunctionWrapper):  # type: ignore[type-arg,unused-ignore]
    """A patched method in its class's ``__dict__``."""

    __bound_function_wrapper__ = _BoundPatched

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self


def patch() -> None:
    for owner, name, wrapper in _TARGETS:
        original = owner.__dict__[name]
        if isinstance(original, wrapt.FunctionWrapper):
            continue
        setattr(owner, name, _Patched(original, wrapper))
        _PATCHES.append((owner, name))


def unpatch() -> None:
    while _PATCHES:
        owner, name = _PATCHES.pop()
        current = owner.__dict__[name]
        if isinstance(current, wrapt.FunctionWrapper):
            setattr(owner, name, current.__wrapped__)
