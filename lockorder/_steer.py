"""Steering a confirm rerun: pause threads at a potential deadlock's edges until
the real deadlock forms (docs/confirm.md).

A confirm rerun (``lockorder confirm``, ``lockorder run --confirm``,
``pytest --lockorder-confirm``) runs the program again with a *plan* in the
environment (``LOCKORDER_STEER``, a JSON file): the edges of one cycle, each as
"holds a lock of class SRC, about to take one of class DST", with the line of the
program that took it. On the slow path of a blocking acquire, after the edges are
recorded and before the lock is taken, a thread that matches an edge **pauses**.
Every edge pauses its thread, so the plan is a barrier over the cycle: the pause
ends when

- **cycle**: the paused threads close a wait-for cycle on the locks' real
  owners (this thread wants a lock that a paused thread holds, which wants one
  that another paused thread holds, ..., back to this one). All of them go; each
  blocks on the next; lockorder's wait-for check breaks the real deadlock with
  DeadlockError, which the rerun's report records. Owners, not classes, decide:
  two transfers ``a -> b`` and ``c -> d`` of one lock class never look like a cycle;
- **thrash**: a thread that is not paused waits for a lock this thread holds:
  pausing only holds it up;
- **stall**: every live thread is paused or blocked with no timeout (on a checked
  lock, in ``join()``, ``Condition.wait()``, ``Event.wait()``, ``Queue.get()``),
  for ``grace`` seconds: nothing can arrive (the threads of the edges do not
  overlap, here);
- **disjoint**: a stall or a timeout, after the paused threads stood at every
  edge of the cycle at once without closing it: the locks each wanted were
  other instances of the classes than those the others held (an object per
  thread), which is the reason the cycle did not form;
- **timeout**: ``pause`` seconds went by. While every other live thread is
  paused or blocked and some are in a timed wait (``Event.wait(3)``,
  ``join(3)``, ``Queue.get(timeout=3)``), nothing but that timer can move the
  program on: a wait shorter than ``TIMED_LIMIT`` seconds extends the limit to
  its end plus ``pause`` (once per waiting thread, so a polling loop does not
  extend it again), up to ``TIMED_LIMIT`` seconds of pause in all.

A thread pauses at most ``max_pauses`` times; until then its target chains stay
off the fast path (the chain cache would skip the hook). Nothing here runs when
there is no plan: the tracker checks one module global on its slow path only.
Pauses are logged, one JSON line each, to the plan's log file, which the
driver (lockorder._confirm) reads for its verdict.

Internal state is guarded by a raw lock of this module, never by the tracker's
mutex, which a paused thread must not hold.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, NamedTuple

from lockorder import _sites, _threads, _unpatched
from lockorder._held import ThreadState
from lockorder._state import checker

__all__ = ["PLAN_ENV", "Steering", "Target", "install_from_env"]

#: the environment variable that names a confirm rerun's plan (a JSON file)
PLAN_ENV = "LOCKORDER_STEER"
PLAN_VERSION = 1

# bound at import, as lockorder._deadlock's: a program may patch the time module
from time import monotonic, sleep  # noqa: E402

_POLL = 0.002
#: the longest a pause is extended to outlast a timed wait of the program
TIMED_LIMIT = 30.0
_CLOSER_DELAY = 0.05
_THREADING_FILE = os.path.normcase(os.path.abspath(threading.__file__))
_LOCKORDER_DIR = os.path.normcase(os.path.dirname(os.path.abspath(__file__))) + os.sep
#: threading's functions a thread blocks in: (name, how its locals say "no timeout")
_BLOCKING = ("wait", "join", "_wait_for_tstate_lock")


class Target(NamedTuple):
    """One edge of the cycle to steer: a thread holding a lock of class ``src``
    and about to take one of class ``dst`` (at ``site``, when known)."""

    number: int  # the edge's number in the finding, from 1
    src: str
    dst: str
    site: tuple[str, int] | None


class _Pause:
    __slots__ = ("limit", "met", "outcome", "since", "target", "timed", "ts", "want", "why")

    def __init__(self, ts: ThreadState, want: Any, target: Target, pause: float) -> None:
        self.ts = ts
        self.want = want
        self.target = target
        self.since = monotonic()
        #: when the pause times out (extended past the program's timed waits)
        self.limit = self.since + pause
        #: the threads in a timed wait that extended the limit (at most once each)
        self.timed: set[int] = set()
        #: why the cycle could not close, once the paused threads stood at every
        #: edge at once on other locks than each other's ("" until then)
        self.met = ""
        self.outcome: str | None = None
        self.why = ""


def _owner(st: Any) -> ThreadState | None:
    """The thread that holds ``st`` as a mutex (None for a semaphore or a signal)."""
    if st._lo_sema or st._lo_signal or st._lo_cls.signal:
        return None
    owner: ThreadState | None = st._lo_owner
    return owner


def _same_file(a: str, b: str) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


class Steering:
    """The pauses of one confirm rerun."""

    def __init__(
        self,
        targets: list[Target],
        pause: float = 2.0,
        grace: float = 0.05,
        max_pauses: int = 4,
        log: str | None = None,
    ) -> None:
        self.targets = targets
        self.by_dst: dict[str, list[Target]] = {}
        #: the edges each target stands for: a cycle of two locks of one class has
        #: two edges alike (same classes, same line), one target
        self.edges: dict[Target, list[int]] = {}
        for target in targets:
            alike = [t for t in self.by_dst.get(target.dst, ()) if t[1:] == target[1:]]
            if alike:
                self.edges[alike[0]].append(target.number)
                continue
            self.by_dst.setdefault(target.dst, []).append(target)
            self.edges[target] = [target.number]
        self.pause = pause
        self.grace = grace
        self.max_pauses = max_pauses
        self.log = log
        self._mu = _unpatched.allocate_lock()
        self._paused: dict[int, _Pause] = {}  # id(ThreadState) -> its pause
        self._count: dict[int, int] = {}  # thread serial -> pauses so far
        #: thread ident -> (its timed wait's outermost frame id, when the wait ends)
        self._timers: dict[int, tuple[int, float]] = {}

    # -- called by the tracker --------------------------------------------------------
    def keeps_slow(self, ts: ThreadState, cls: Any) -> bool:
        """Whether a chain ending in ``cls`` must stay off ``ts``'s fast path."""
        return cls.key in self.by_dst and self._count.get(ts.serial, 0) < self.max_pauses

    def arrive(self, ts: ThreadState, st: Any) -> None:
        """``ts`` is about to take ``st`` (blocking; its edges are recorded)."""
        targets = self.by_dst.get(st._lo_cls.key)
        if targets is None or st._lo_sema or self._count.get(ts.serial, 0) >= self.max_pauses:
            return
        if ts.task is not None:
            return  # an asyncio task: pausing it would block its whole loop
        held = {h._lo_cls.key: h for h in list(ts.held) if h is not st and _owner(h) is ts}
        here: _sites.Frame | None = None
        for target in targets:
            if target.src not in held:
                continue
            if target.site is not None:
                if here is None:
                    here = _sites.user_frame(1)
                if here is None or here.lineno != target.site[1]:
                    continue
                if not _same_file(here.filename, target.site[0]):
                    continue
            self._hold(ts, st, held[target.src], target)
            return

    # -- the pause ---------------------------------------------------------------------
    def _hold(self, ts: ThreadState, st: Any, first: Any, target: Target) -> None:
        pause = _Pause(ts, st, target, self.pause)
        with self._mu:
            self._count[ts.serial] = self._count.get(ts.serial, 0) + 1
            self._paused[id(ts)] = pause
        quiet_since: float | None = None
        closed = False
        try:
            while True:
                with self._mu:
                    if pause.outcome is None:
                        self._judge(pause)
                        closed = pause.outcome == "cycle"
                    done = pause.outcome is not None
                if done:
                    break
                stalled = self._stalled(pause)
                now = monotonic()
                if stalled is None:
                    quiet_since = None
                elif stalled[1]:  # only a timer can move the program on
                    quiet_since = None
                    self._extend(pause, stalled[1])
                elif quiet_since is None:
                    quiet_since = now
                elif now - quiet_since >= self.grace:
                    with self._mu:
                        if pause.outcome is None:
                            self._end(pause, "stall", stalled[0])
                    continue
                sleep(_POLL)
        finally:
            with self._mu:
                self._paused.pop(id(ts), None)
                if pause.outcome is None:  # interrupted (KeyboardInterrupt)
                    pause.outcome, pause.why = "interrupted", "the pause was interrupted"
        if closed:
            # the thread that closed the cycle goes last: the others block first,
            # so it is the last to wait, the victim of the break (as its acquire
            # would be without steering), and every rerun reports alike
            sleep(_CLOSER_DELAY)
        self._write(pause, first)

    def _judge(self, pause: _Pause) -> None:
        """Under ``_mu``: end ``pause`` if a cycle closed, it thrashes or it timed out."""
        members = [pause]
        node = pause
        while True:
            owner = _owner(node.want)
            if owner is None:
                break
            if owner is pause.ts:
                names = " -> ".join(repr(m.ts.name) for m in members)
                for member in members:
                    member.outcome = "cycle"
                    member.why = f"the paused threads {names} each held a lock the next one wanted"
                return
            following = self._paused.get(id(owner))
            if following is None or following in members:
                break
            members.append(following)
            node = following
        self._meet(pause)
        for other in list(_threads.by_serial.values()):
            waited = other.waiting_on
            if other is pause.ts or id(other) in self._paused or waited is None:
                continue
            if hasattr(waited, "_lo_cls") and _owner(waited) is pause.ts:
                pause.outcome = "thrash"
                pause.why = (
                    f"thread {other.name!r} waited for {waited._lo_cls.label}, which the "
                    f"paused thread {pause.ts.name!r} held"
                )
                return
        if monotonic() >= pause.limit:
            if pause.timed:
                limit = (
                    f"{pause.limit - pause.since:.1f} s (the pause limit, {self.pause:g} s, "
                    "counted from the end of the program's timed wait)"
                )
            else:
                limit = f"{self.pause:g} s (the pause limit)"
            self._end(
                pause, "timeout", f"no other thread of the cycle reached its edge within {limit}"
            )

    def _end(self, pause: _Pause, outcome: str, why: str) -> None:
        """Under ``_mu``: end ``pause`` by a stall or a timeout, or as disjoint if
        the paused threads met at every edge on other locks than each other's."""
        if pause.met:
            pause.outcome, pause.why = "disjoint", pause.met
        else:
            pause.outcome, pause.why = outcome, why

    def _meet(self, pause: _Pause) -> None:
        """Under ``_mu``, when no cycle closed: note if the paused threads stand at
        every edge of the cycle at once (a target standing for several edges needs
        as many threads), which then cannot close on these locks."""
        if pause.met:
            return
        at: dict[Target, int] = {}
        for other in self._paused.values():
            at[other.target] = at.get(other.target, 0) + 1
        if len(self._paused) < 2 or any(
            at.get(target, 0) < len(edges) for target, edges in self.edges.items()
        ):
            return
        names = sorted(repr(other.ts.name) for other in self._paused.values())
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        pause.met = (
            f"the paused threads {listed} stood at every edge of the cycle at once, but held "
            "different instances of its lock classes: none wanted a lock another held, so "
            "the cycle could not close"
        )

    def _extend(self, pause: _Pause, timed: list[tuple[int, float, float]]) -> None:
        """Outlast the timed waits every other thread is in: each shorter than
        ``TIMED_LIMIT`` extends the pause to the wait's end plus ``pause``, once,
        up to ``TIMED_LIMIT`` of pause in all. A longer wait (``join(timeout=30)``,
        a safety net rather than a step of the program) extends nothing."""
        with self._mu:
            cap = pause.since + max(self.pause, TIMED_LIMIT)
            for ident, ends, timeout in timed:
                if ident not in pause.timed:
                    pause.timed.add(ident)
                    if timeout < TIMED_LIMIT:
                        pause.limit = max(pause.limit, min(ends + self.pause, cap))

    def _stalled(self, pause: _Pause) -> tuple[str, list[tuple[int, float, float]]] | None:
        """None if some live thread may still run; else what every one is doing,
        and the threads in a timed wait: (ident, when the wait ends, its timeout)."""
        with self._mu:
            paused = {id(p.ts) for p in self._paused.values()}
        states = {ts.ident: ts for ts in list(_threads.by_serial.values())}
        frames = sys._current_frames()
        doing = []
        timed = []
        for thread in threading.enumerate():
            ident = thread.ident
            if ident is None or ident in _threads.internal_idents:
                continue
            ts = states.get(ident)
            if ts is not None and id(ts) in paused:
                if ts is not pause.ts:
                    doing.append(f"{thread.name!r} is paused at another edge")
                continue
            waited = ts.waiting_on if ts is not None else None
            if waited is not None:
                label = waited._lo_cls.label if hasattr(waited, "_lo_cls") else waited.label
                doing.append(f"{thread.name!r} waits for {label}")
                continue
            blocked = _blocked_in(frames.get(ident))
            if blocked is None:
                return None
            call, timeout, outer = blocked
            if timeout is not None:
                timed.append((ident, self._ends(ident, outer, timeout), timeout))
            doing.append(f"{thread.name!r} waits in {call}")
        if not doing:
            return "no other thread was running", timed
        return "every other thread was blocked with no timeout: " + "; ".join(doing), timed

    def _ends(self, ident: int, outer: int, timeout: float) -> float:
        """When a thread's timed wait ends: its timeout from when it was first seen
        (at or after its start: never too early)."""
        with self._mu:
            seen = self._timers.get(ident)
            if seen is None or seen[0] != outer:
                seen = self._timers[ident] = (outer, monotonic() + timeout)
        return seen[1]

    def _write(self, pause: _Pause, first: Any) -> None:
        if not self.log:
            return
        site = pause.target.site
        record = {
            "edge": pause.target.number,
            "edges": self.edges.get(pause.target, [pause.target.number]),
            "thread": pause.ts.name,
            "held": first._lo_cls.label,
            "want": pause.want._lo_cls.label,
            "site": f"{_sites.relpath(site[0])}:{site[1]}" if site else None,
            "paused_s": round(monotonic() - pause.since, 4),
            "outcome": pause.outcome,
            "why": pause.why,
        }
        line = json.dumps(record) + "\n"
        with self._mu:
            try:
                with open(self.log, "a", encoding="utf-8") as out:
                    out.write(line)
            except OSError:  # pragma: no cover - the driver then sees no pause
                pass


def _blocked_in(frame: Any) -> tuple[str, float | None, int] | None:
    """The threading or queue call a wait of this thread is in, its timeout
    (None: untimed) and the id of its outermost frame; or None (it runs, or
    waits somewhere lockorder cannot tell)."""
    if frame is None:
        return None
    code = frame.f_code
    if code.co_name not in _BLOCKING:
        return None
    if os.path.normcase(os.path.abspath(code.co_filename)) != _THREADING_FILE:
        return None
    try:
        local = frame.f_locals
        timeout = local.get("timeout")
        block = local.get("block", True)
    except Exception:  # pragma: no cover - a frame that ended meanwhile
        return None
    if code.co_name == "_wait_for_tstate_lock":
        untimed = block and (timeout is None or timeout < 0)
    else:
        untimed = timeout is None
    call, outer, outer_timeout = _call_of(frame)
    if untimed:
        return call, None, id(outer)
    if not isinstance(outer_timeout, (int, float)) or outer_timeout < 0:
        outer_timeout = timeout  # pragma: no cover - the inner wait's own
    return f"{call} with a timeout of {outer_timeout:g} s", float(outer_timeout), id(outer)


#: standard-library modules whose blocking calls a stall names by their outermost call
_SYNC_FILES = frozenset(
    os.path.normcase(os.path.abspath(module.__file__ or ""))
    for module in (threading, __import__("queue"))
)


def _call_of(frame: Any) -> tuple[str, Any, Any]:
    """The outermost call of threading or queue around the wait (Event.wait(),
    Queue.get(), Thread.join() rather than the Condition.wait() inside them), its
    frame and its ``timeout`` argument."""
    text = ""
    outer = frame
    timeout = None
    while frame is not None:
        code = frame.f_code
        path = os.path.normcase(os.path.abspath(code.co_filename))
        if path.startswith(_LOCKORDER_DIR):  # lockorder's own wait wrappers (_waits)
            frame = frame.f_back
            continue
        if path not in _SYNC_FILES:
            break
        name = "join" if code.co_name == "_wait_for_tstate_lock" else code.co_name
        try:
            local = frame.f_locals
            owner = local.get("self")
            waits = local.get("timeout")
        except Exception:  # pragma: no cover
            owner = waits = None
        kind = type(owner).__name__ if owner is not None else "threading"
        if not name.startswith("_"):
            text = f"{kind}.{name}()"
            outer, timeout = frame, waits
        frame = frame.f_back
    return text or "threading", outer, timeout


def load_plan(path: str) -> Steering:
    """The steering a plan file describes (written by lockorder._confirm)."""
    with open(path, encoding="utf-8") as file:
        plan = json.load(file)
    if not isinstance(plan, dict) or plan.get("version") != PLAN_VERSION:
        raise ValueError(f"not a version {PLAN_VERSION} confirm plan")
    targets = []
    for raw in plan["targets"]:
        site = raw.get("site")
        targets.append(
            Target(
                int(raw["edge"]),
                str(raw["src"]),
                str(raw["dst"]),
                (str(site[0]), int(site[1])) if site else None,
            )
        )
    return Steering(
        targets,
        pause=float(plan.get("pause", 2.0)),
        grace=float(plan.get("grace", 0.05)),
        max_pauses=int(plan.get("max_pauses", 4)),
        log=plan.get("log"),
    )


def install_from_env() -> None:
    """Steer this process if ``LOCKORDER_STEER`` names a plan (a confirm rerun)."""
    path = os.environ.get(PLAN_ENV, "")
    if not path:
        return

    try:
        checker.use_steering(load_plan(path))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        print(
            f"lockorder: {PLAN_ENV}={path!r}: cannot read the confirm plan ({exc}); "
            "the run is not steered",
            file=sys.stderr,
        )
