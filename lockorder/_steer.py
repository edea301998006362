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
- **timeout**: ``pause`` seconds went by.

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

__all__ = ["PLAN_ENV", "Steering", "Target", "install_from_env"]

#: the environment variable that names a confirm rerun's plan (a JSON file)
PLAN_ENV = "LOCKORDER_STEER"
PLAN_VERSION = 1

# bound at import, as lockorder._deadlock's: a program may patch the time module
from time import monotonic, sleep  # noqa: E402

_POLL = 0.002
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
    __slots__ = ("outcome", "since", "target", "ts", "want", "why")

    def __init__(self, ts: ThreadState, want: Any, target: Target) -> None:
        self.ts = ts
        self.want = want
        self.target = target
        self.since = monotonic()
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
        pause = _Pause(ts, st, target)
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
                elif quiet_since is None:
                    quiet_since = now
                elif now - quiet_since >= self.grace:
                    with self._mu:
                        if pause.outcome is None:
                            pause.outcome, pause.why = "stall", stalled
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
        if monotonic() - pause.since >= self.pause:
            pause.outcome = "timeout"
            pause.why = (
                f"no other thread of the cycle reached its edge within {self.pause:g} s "
                "(the pause limit)"
            )

    def _stalled(self, pause: _Pause) -> str | None:
        """None if some live thread may still run; else what every one is doing."""
        with self._mu:
            paused = {id(p.ts) for p in self._paused.values()}
        states = {ts.ident: ts for ts in list(_threads.by_serial.values())}
        frames = sys._current_frames()
        doing = []
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
            doing.append(f"{thread.name!r} waits in {blocked}")
        if not doing:
            return "no other thread was running"
        return "every other thread was blocked with no timeout: " + "; ".join(doing)

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


def _blocked_in(frame: Any) -> str | None:
    """The threading call an untimed wait of this thread is in, or None (it runs,
    or waits with a timeout, or waits somewhere lockorder cannot tell)."""
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
    if not untimed:
        return None
    return _call_text(frame)


#: standard-library modules whose blocking calls a stall names by their outermost call
_SYNC_FILES = frozenset(
    os.path.normcase(os.path.abspath(module.__file__ or ""))
    for module in (threading, __import__("queue"))
)


def _call_text(frame: Any) -> str:
    """The outermost call of threading or queue around the wait: Event.wait(),
    Queue.get(), Thread.join() rather than the Condition.wait() inside them."""
    text = ""
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
            owner = frame.f_locals.get("self")
        except Exception:  # pragma: no cover
            owner = None
        kind = type(owner).__name__ if owner is not None else "threading"
        if not name.startswith("_"):
            text = f"{kind}.{name}()"
        frame = frame.f_back
    return text or "threading"


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
    from lockorder import _tracker

    try:
        _tracker.steering = load_plan(path)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        print(
            f"lockorder: {PLAN_ENV}={path!r}: cannot read the confirm plan ({exc}); "
            "the run is not steered",
            file=sys.stderr,
        )
