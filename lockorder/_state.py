"""The checker's state, in one place: the object ``checker`` owns every piece of
shared mutable state the checker keeps (settings, the lock-order graph, the
findings store with its signatures and counters, the cycles not yet full, the
live holders, the test running now, the project's configuration, a confirm
rerun's steering), and the operations that change it.

Every other module reads it as ``checker.<name>`` at call time and changes it
only through its methods (``configure``, ``restore``, ``reset``,
``use_project``, ``add_finding``, ...): nothing rebinds an attribute of it from
outside.

Everything here is guarded by ``checker.mu`` (lockorder._held.mu, a reentrant raw
lock): no reliance on the GIL. Per-lock state lives in the checked lock's
slots, per-holder state in its ThreadState (lockorder._held); this module
imports neither the slow path (lockorder._tracker) nor the emitters
(lockorder._emit), which build on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lockorder import _config, _held
from lockorder._findings import SUPERSEDED_RULE, WITHDRAWN_PREFIX, Finding
from lockorder._graph import TAKEN_AT_LIMIT, WATCH_LIMIT, Edge, LockClass, LockGraph, taken_lines

if TYPE_CHECKING:
    from lockorder._held import ThreadState
    from lockorder._project import ProjectConfig

__all__ = ["Checker", "checker"]

#: a wait-while-holding finding's "is taken at" lines: the details before them,
#: (label, class) of each held lock, the details after them
Takers = tuple[tuple[str, ...], tuple[tuple[str, LockClass], ...], tuple[str, ...]]


class Checker:
    """The checker's shared state (one instance: ``checker``), guarded by ``mu``."""

    def __init__(self) -> None:
        #: the mutex guarding all of it (and every ThreadState's registration)
        self.mu = _held.mu
        #: the settings in force: a frozen Settings, replaced by configure()
        self.settings: _config.Settings = _config.settings_from_env(strict=False)
        #: lock classes, edges and the cycle check
        self.graph = LockGraph()
        #: every finding in the order made (append-only: the pytest plugin's
        #: per-test slices index it)
        self.log: list[Finding] = []
        #: the signatures of every finding made (suppressed ones too): a
        #: finding is made once
        self.signatures: set[str] = set()
        #: signatures of findings withdrawn since they were made
        self.withdrawn: set[str] = set()
        #: (rule, finding) for each finding suppressed by the project's
        #: configuration, withdrawn, or superseded
        self.suppressed: list[tuple[str, Finding]] = []
        #: findings made and not logged yet (lockorder._emit.log_new), and the
        #: signatures logged so far: a finding is logged once
        self.unlogged: list[Finding] = []
        self.logged: set[str] = set()
        #: wait-while-holding findings listing the places that take their locks
        self.takers: dict[str, Takers] = {}
        #: bumped whenever an edge or a finding is added or changed (live reports)
        self.changes = 0
        #: cycles that are not (yet) full findings: signature -> edges, and the
        #: signatures each edge (by id) is part of
        self.pending: dict[str, list[Edge]] = {}
        self.pending_by_edge: dict[int, set[str]] = {}
        #: serials of watched locks that died, for the graph to forget
        self.dead_instances: list[int] = []
        #: threading lock serial -> the asyncio task that took it last
        self.task_users: dict[int, int] = {}
        #: the last lock creation serial
        self.serial = 0
        #: every live holder's state by serial (threads; tasks are reached
        #: through their tasks)
        self.holders: dict[int, ThreadState] = {}
        #: the test running now (the pytest plugin), for attribution
        self.current_test: str | None = None
        #: the project's [tool.lockorder] settings (ignore, allow, order,
        #: baseline), if loaded
        self.project: ProjectConfig | None = None
        #: a confirm rerun's steering (lockorder._steer.Steering), else None
        self.steering: Any = None

    # -- settings and context ------------------------------------------------

    def configure(self, **changes: Any) -> _config.Settings:
        """Apply ``changes`` (lockorder.configure()'s keywords) to the settings."""
        with self.mu:
            self.settings = _config.apply(self.settings, "lockorder.configure()", **changes)
            return self.settings

    def restore(self, settings: _config.Settings) -> None:
        """Put back settings saved earlier (the pytest plugin, after a test with a
        ``lockorder`` marker and at the session's end)."""
        with self.mu:
            self.settings = settings

    def set_test(self, name: str | None) -> None:
        """The test running from now on (the pytest plugin), or None."""
        self.current_test = name

    def use_steering(self, steering: Any) -> None:
        """Steer this process's blocking acquires (a confirm rerun), or stop (None)."""
        with self.mu:
            self.steering = steering

    def use_project(self, config: ProjectConfig | None) -> None:
        """Judge findings by ``config`` from now on (lockorder._project.activate)."""
        with self.mu:
            self.project = config

    @contextmanager
    def test_context(self, name: str | None) -> Iterator[None]:
        """Attribute what happens inside to ``name`` (used by the pytest plugin)."""
        previous = self.current_test
        self.current_test = name
        try:
            yield
        finally:
            self.current_test = previous

    def next_serial(self) -> int:
        """A new lock serial."""
        with self.mu:
            self.serial += 1
            return self.serial

    def changed(self) -> None:
        """An edge was added or its evidence changed (called under ``mu``): the
        live report is out of date."""
        self.changes += 1

    def forget_known(self) -> None:
        """Every holder validates its chains again (called under ``mu``). Each gets
        a new set: the C hot path's per-lock memos name the old one."""
        for ts in self.holders.values():
            ts.known = set()

    def reset(self) -> None:
        """Forget every edge and finding; lock classes stay (they are code sites),
        and threads keep their held locks."""
        with self.mu:
            self.graph.clear()
            self.log.clear()
            self.withdrawn.clear()
            self.suppressed.clear()
            self.unlogged.clear()
            self.logged.clear()
            self.signatures.clear()
            self.pending.clear()
            self.pending_by_edge.clear()
            self.dead_instances.clear()
            self.task_users.clear()
            for _, locks, _ in self.takers.values():
                for _, cls in locks:
                    cls.watch_takes = 0
            self.takers.clear()
            self.forget_known()

    # -- the findings store --------------------------------------------------

    def add_locked(self, finding: Finding) -> bool:
        """Record a new finding (called under ``mu``); False if the project's
        configuration suppresses it."""
        self.changes += 1
        self.signatures.add(finding.signature)
        if self.project is not None:
            rule = self.project.suppresses(finding)
            if rule is not None:
                self.suppressed.append((rule, finding))
                return False
        self.log.append(finding)
        self.unlogged.append(finding)
        return True

    def add_finding(self, finding: Finding) -> bool:
        """Record a finding made outside the slow path; False if it is a duplicate
        or suppressed. It is not logged here: lockorder._emit.add_finding logs."""
        with self.mu:
            if finding.signature in self.signatures:
                return False
            return self.add_locked(finding)

    def take_unlogged(self) -> list[Finding]:
        """The findings made since the last call that were not logged yet (one per
        signature), for lockorder._emit.log_new."""
        if not self.unlogged:
            return []
        with self.mu:
            taken = [f for f in self.unlogged if f.signature not in self.logged]
            self.unlogged.clear()
            self.logged.update(f.signature for f in taken)
            return taken

    def amend_finding(self, signature: str, details: tuple[str, ...]) -> None:
        """Add ``details`` to the finding ``signature`` (what became known of it
        later: how long a lock left held at a test's end stayed held)."""
        with self.mu:
            for index, finding in enumerate(self.log):
                if finding.signature == signature:
                    self.log[index] = dataclasses.replace(
                        finding, details=(*finding.details, *details)
                    )
                    self.changes += 1
                    return

    def findings(self) -> list[Finding]:
        """The findings so far, less those withdrawn since."""
        with self.mu:
            return [self._current(f) for f in self.log if f.signature not in self.withdrawn]

    def snapshot(self) -> tuple[list[Finding], dict[str, Any], list[tuple[str, Finding]]]:
        """What a report of this process shows, read at once: the findings (less
        those withdrawn), the graph in its wire form, and the suppressed findings
        with their rules."""
        with self.mu:
            return self.findings(), self.graph.to_wire(), list(self.suppressed)

    def suppressed_by(self, finding: Finding) -> str | None:
        """The rule that suppressed ``finding`` (or one of its signature), if any."""
        with self.mu:
            for rule, suppressed in self.suppressed:
                if suppressed.signature == finding.signature:
                    return rule
        return None

    def findings_made(self) -> int:
        """How many findings were made so far, withdrawn ones included: a position
        in the append-only log that findings_since() takes."""
        with self.mu:
            return len(self.log)

    def findings_since(self, start: int) -> tuple[list[Finding], int]:
        """The findings made from position ``start`` on and not withdrawn since,
        and the position after the last one made."""
        with self.mu:
            found = [
                self._current(f) for f in self.log[start:] if f.signature not in self.withdrawn
            ]
            return found, len(self.log)

    def watch_takers(
        self,
        signature: str,
        before: tuple[str, ...],
        locks: tuple[tuple[str, LockClass], ...],
        after: tuple[str, ...],
    ) -> None:
        """The wait-while-holding finding ``signature`` lists the places that take
        ``locks``: from now on, every acquire of their classes goes the slow way,
        where its line is noted (every holder's known chains are forgotten, so the
        chains that take them are seen again), until a class has TAKEN_AT_LIMIT
        lines or WATCH_LIMIT more acquires; the finding is shown with every line
        the run saw."""
        with self.mu:
            self.takers[signature] = (before, locks, after)
            for _, cls in locks:
                if len(cls.taken_at) < TAKEN_AT_LIMIT:
                    cls.watch_takes = WATCH_LIMIT
            self.forget_known()

    def _current(self, finding: Finding) -> Finding:
        """``finding`` with its takers' lines as the run has seen them so far
        (called under ``mu``)."""
        takers = self.takers.get(finding.signature)
        if takers is None:
            return finding
        before, locks, after = takers
        details = (*before, *taken_lines(list(locks)), *after)
        if details == finding.details:
            return finding
        return dataclasses.replace(finding, details=details)

    # -- cycles not yet full, and findings withdrawn -------------------------

    def unpend(self, signature: str) -> None:
        """Stop watching the cycle ``signature`` (called under ``mu``)."""
        cycle = self.pending.pop(signature, None)
        if cycle:
            for edge in cycle:
                signatures = self.pending_by_edge.get(id(edge))
                if signatures is not None:
                    signatures.discard(signature)
                    if not signatures:
                        del self.pending_by_edge[id(edge)]

    def supersede(self, signature: str) -> None:
        """A cycle reported as a warning (seen in one thread only) is now a full
        finding: the warning moves to the suppressed list, so that one cycle is
        one finding (as ``lockorder merge`` keeps the stronger of two). Called
        under ``mu``."""
        if signature not in self.signatures or signature in self.withdrawn:
            return
        for finding in self.log:
            if finding.signature == signature:
                self.withdrawn.add(signature)
                self.suppressed.append((SUPERSEDED_RULE, finding))
                return

    def withdraw_signal(self, cls: LockClass, why: str) -> None:
        """``cls`` turned out to be a signal: the cycles through edges out of it
        were no lock-order evidence, and a thread that ended (or a test that
        ended) with only signals taken leaked nothing. Forget the pending cycles;
        withdraw those findings to the suppressed list, saying why (reports show
        them there). Called under ``mu`` (lockorder._discipline.learned_signal)."""
        for signature, cycle in list(self.pending.items()):
            if any(edge.src == cls.cid for edge in cycle):
                self.unpend(signature)
        rule = f"{WITHDRAWN_PREFIX} {cls.label} {why}, so holding it blocks nobody"
        by_key = self.graph.by_key
        for finding in self.log:
            if finding.signature in self.withdrawn:
                continue
            if finding.kind == "potential-deadlock":
                through = any(edge.src.key == cls.key for edge in finding.cycle)
            elif finding.kind in ("held-at-exit", "held-at-test-end"):
                # every lock it names turned out to be a signal: another thread released it
                through = all(
                    (known := by_key.get(ref.key)) is not None and known.signal
                    for ref in finding.locks
                )
            else:
                continue
            if through:
                self.withdrawn.add(finding.signature)
                self.suppressed.append((rule, finding))
                self.changes += 1


#: the checker's state: the one instance
checker = Checker()
