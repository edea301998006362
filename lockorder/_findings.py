"""Findings: frozen records of what lockorder found, and their text form.

A finding holds builtin data only (strings, numbers, tuples), so it can be
printed, compared, pickled and written to JSON long after the locks it names
are gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lockorder._sites import Frame, relpath, started_text, where

__all__ = [
    "KINDS",
    "SUPERSEDED_RULE",
    "WITHDRAWN_PREFIX",
    "EdgeReport",
    "Finding",
    "LockRef",
    "split_suppressed",
    "withdrawn_reasons",
]

#: every ``kind`` a finding can have, with its meaning (docs/report-schema.md)
KINDS = {
    "potential-deadlock": "a cycle in the lock-order graph: some interleaving can deadlock",
    "deadlock": "threads blocked in a wait-for cycle right now (a real deadlock, broken)",
    "self-deadlock": "a blocking re-acquire of a non-reentrant Lock by the thread holding it",
    "release-not-held": "a Lock released by a thread that did not acquire it",
    "held-at-exit": "a thread (or an asyncio task) ended while holding checked locks",
    "held-at-test-end": "a thread still held checked locks when a test ended (pytest plugin)",
    "order-violation": "lockorder.acquire() asked for a lock sorting before one it holds",
    "join-while-holding": "a thread joined a thread (or waited on a future) that takes a lock "
    "it held while waiting",
    "wait-while-holding": "a thread waited on an event, queue, condition or barrier while "
    "holding a lock",
    "long-wait": "a lock waited on longer than the long_wait threshold",
    "long-hold": "a lock held longer than the long_hold threshold",
    "nested-acquire": "an asyncio task holding a unit of a semaphore waited for another unit "
    "of the same one: once every unit is held that way, all wait for ever",
    "held-across-await": "an asyncio task suspended at an await while holding a threading "
    "lock: another task of its loop that takes the lock blocks the loop's thread",
}


def lock_label(name: str | None, kind: str, site: str, via: str) -> str:
    """How reports name a lock class: its name or kind, its site, its wrapper."""
    base = f"{name} ({site})" if name else f"{kind} {site}"
    return f"{base} via {via}" if via else base


@dataclass(frozen=True)
class LockRef:
    """A lock class as a finding names it."""

    key: str
    site: str
    name: str | None
    kind: str
    function: str = ""
    #: for instance-level findings (two locks of one class): "(instance 1)", ...
    instance: str = ""
    #: the line of the lock wrapper that made it for ``site`` (``path:line``), or ""
    via: str = ""

    @property
    def label(self) -> str:
        base = lock_label(self.name, self.kind, self.site, self.via)
        return f"{base} {self.instance}" if self.instance else base

    @property
    def source_file(self) -> str:
        """The absolute file of an unnamed lock's site, from its key ("" if none)."""
        if self.name is not None:
            return ""
        site = self.key.partition(" via ")[0]
        if site.endswith(")"):  # "file:line(Kind)"
            site = site[: site.rfind("(")]
        return site.rpartition(":")[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "site": self.site,
            "name": self.name,
            "kind": self.kind,
            "function": self.function,
            "instance": self.instance,
            "via": self.via,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LockRef:
        return cls(
            key=data["key"],
            site=data["site"],
            name=data.get("name"),
            kind=data.get("kind", "Lock"),
            function=data.get("function", ""),
            instance=data.get("instance", ""),
            via=data.get("via") or "",
        )


def _frame(data: Any) -> Frame | None:
    """A frame as JSON holds it, ``[file, line, function]``, or None."""
    return None if data is None else Frame(str(data[0]), int(data[1]), str(data[2]))


@dataclass(frozen=True)
class EdgeReport:
    """One edge of a cycle: ``src`` held while ``dst`` was acquired."""

    src: LockRef
    dst: LockRef
    thread: str
    threads: tuple[str, ...]
    stack: tuple[Frame, ...]
    held: tuple[str, ...]
    test: str | None = None
    tests: tuple[str, ...] = ()
    #: where each held lock was acquired, in the order of ``held`` (None: unknown)
    held_at: tuple[Frame | None, ...] = ()
    #: the program's lines that started ``thread``: start() and its callers
    thread_started_at: tuple[Frame, ...] = ()
    #: what ``thread`` is: a "thread", or an asyncio "task"
    holder: str = "thread"

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.src.to_dict(),
            "to": self.dst.to_dict(),
            "thread": self.thread,
            "threads": list(self.threads),
            "stack": [list(frame) for frame in self.stack],
            "held": list(self.held),
            "held_at": [None if at is None else list(at) for at in self.held_at],
            "thread_started_at": [list(frame) for frame in self.thread_started_at],
            "test": self.test,
            "tests": list(self.tests),
            "holder": self.holder,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EdgeReport:
        return cls(
            src=LockRef.from_dict(data["from"]),
            dst=LockRef.from_dict(data["to"]),
            thread=data["thread"],
            threads=tuple(data.get("threads", ())),
            stack=tuple(Frame(str(f), int(n), str(fn)) for f, n, fn in data.get("stack", ())),
            held=tuple(data.get("held", ())),
            test=data.get("test"),
            tests=tuple(data.get("tests", ())),
            held_at=tuple(_frame(at) for at in data.get("held_at", ())),
            thread_started_at=tuple(
                f for f in map(_frame, data.get("thread_started_at") or ()) if f is not None
            ),
            holder="task" if data.get("holder") == "task" else "thread",
        )


@dataclass(frozen=True)
class Finding:
    """Something lockorder found.

    Attributes:
        kind: one of :data:`KINDS`.
        severity: ``"error"`` (a full finding) or ``"warning"``.
        message: one line saying what was found.
        locks: the lock classes involved.
        thread: the thread in which it was found.
        stack: where it was found (innermost last).
        cycle: for a potential deadlock, each edge of the shortest cycle.
        reason: why it counts (or why it is only a warning).
        single_thread: the cycle was seen in one thread only: one thread made
            every edge, or no lock of a class of it was acquired by two threads.
        test: the test running when it was found (under the pytest plugin).
        signature: identity used to report each distinct finding once.
        confirmation: for a potential deadlock that a steered rerun tried to
            confirm, the verdict (docs/confirm.md): ``status``, ``reason``,
            ``attempts``, ``seconds``, and when confirmed the real deadlock's
            report (``deadlock``) and the ``command`` that reproduces it.
    """

    kind: str
    severity: str
    message: str
    locks: tuple[LockRef, ...]
    thread: str
    stack: tuple[Frame, ...] = ()
    cycle: tuple[EdgeReport, ...] = ()
    reason: str = ""
    single_thread: bool = False
    test: str | None = None
    signature: str = ""
    details: tuple[str, ...] = field(default=())
    confirmation: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    #: what ``thread`` is: a "thread", or an asyncio "task"
    holder: str = "thread"

    def to_dict(self) -> dict[str, Any]:
        data = {
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "locks": [lock.to_dict() for lock in self.locks],
            "thread": self.thread,
            "stack": [list(frame) for frame in self.stack],
            "cycle": [edge.to_dict() for edge in self.cycle],
            "reason": self.reason,
            "single_thread": self.single_thread,
            "test": self.test,
            "signature": self.signature,
            "details": list(self.details),
        }
        if self.confirmation is not None:
            data["confirmation"] = self.confirmation
        if self.holder != "thread":
            data["holder"] = self.holder
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            kind=data["kind"],
            severity=data["severity"],
            message=data["message"],
            locks=tuple(LockRef.from_dict(lock) for lock in data.get("locks", ())),
            thread=data.get("thread", ""),
            stack=tuple(Frame(str(f), int(n), str(fn)) for f, n, fn in data.get("stack", ())),
            cycle=tuple(EdgeReport.from_dict(edge) for edge in data.get("cycle", ())),
            reason=data.get("reason", ""),
            single_thread=bool(data.get("single_thread", False)),
            test=data.get("test"),
            signature=data.get("signature", ""),
            details=tuple(data.get("details", ())),
            confirmation=_confirmation(data.get("confirmation")),
            holder="task" if data.get("holder") == "task" else "thread",
        )

    def format(self) -> str:
        """The finding as a person reads it (lockdep-like)."""
        return "\n".join(format_lines(self))

    def __str__(self) -> str:
        return self.format()


def _confirmation(value: Any) -> dict[str, Any] | None:
    """A report's confirmation object, if it is one (else None: reports are input)."""
    if isinstance(value, dict) and isinstance(value.get("status"), str):
        return value
    return None


#: kinds whose details already show every thread's stack
_STACKS_IN_DETAILS = frozenset({"deadlock", "long-hold"})


def _stack_lines(stack: tuple[Frame, ...], indent: str) -> list[str]:
    lines = [f"{indent}stack (most recent call last):"]
    for filename, lineno, function in stack:
        lines.append(f'{indent}  File "{relpath(filename)}", line {lineno}, in {function}')
    return lines


def format_lines(finding: Finding) -> list[str]:
    level = "WARNING" if finding.severity == "warning" else "ERROR"
    confirmation = finding.confirmation
    confirmed = confirmation is not None and confirmation.get("status") == "confirmed"
    kind = f"{finding.kind} (CONFIRMED)" if confirmed else finding.kind
    lines = [f"lockorder {level}: {kind}: {finding.message}"]
    if finding.test:
        lines.append(f"  test: {finding.test}")
    if confirmation is not None:
        lines.extend(_confirmation_lines(confirmation))
    if finding.cycle:
        chain = " -> ".join(edge.src.label for edge in finding.cycle)
        lines.append(f"  cycle: {chain} -> {finding.cycle[0].src.label}")
    if finding.reason:
        lines.append(f"  why: {finding.reason}")
    for detail in finding.details:
        lines.append(f"  {detail}" if detail else "")
    for number, edge in enumerate(finding.cycle, 1):
        lines.append("")
        lines.append(f"  edge {number}: {edge.src.label} -> {edge.dst.label}")
        others = [t for t in edge.threads if t != edge.thread]
        made = f"    first made by {edge.holder} {edge.thread!r}"
        if others:
            made += f" (also by {', '.join(repr(t) for t in others)})"
        if edge.test:
            made += f" in test {edge.test}"
        lines.append(made)
        if edge.thread_started_at:
            how = "created" if edge.holder == "task" else "started"
            started = started_text(edge.thread_started_at, how)
            lines.append(f"    {edge.holder} {edge.thread!r} was {started}")
        extra_tests = [t for t in edge.tests if t != edge.test]
        if extra_tests:
            lines.append(f"    also made in: {', '.join(extra_tests)}")
        if edge.held:
            lines.append(f"    locks held: {', '.join(edge.held)}")
            for label, at in zip(edge.held, edge.held_at, strict=False):
                if at is not None:
                    lines.append(f"      {label} acquired at {where(at)}")
        lines.extend(_stack_lines(edge.stack, "    "))
    if finding.cycle:
        lines.append("")
        lines.extend(scenario_lines(finding))
        if confirmation is not None:
            lines.extend(_deadlock_lines(confirmation))
    elif finding.stack and finding.kind not in _STACKS_IN_DETAILS:
        lines.append(f"  {finding.holder}: {finding.thread!r}")
        lines.extend(_stack_lines(finding.stack, "  "))
    return lines


def _confirmation_lines(confirmation: dict[str, Any]) -> list[str]:
    status = confirmation.get("status", "?")
    attempts = confirmation.get("attempts", 0)
    seconds = confirmation.get("seconds", 0)
    if status == "not-attempted":
        head = f"  confirm: {status}"
    else:
        head = f"  confirm: {status} ({attempts} rerun{'s' if attempts != 1 else ''}, {seconds} s)"
    lines = [head, f"    {confirmation.get('reason', '')}"]
    if status == "confirmed" and confirmation.get("command"):
        lines.append(f"    reproduce: {confirmation['command']}")
    return lines


def _deadlock_lines(confirmation: dict[str, Any]) -> list[str]:
    """The confirming rerun's deadlock report: every thread's locks and stack."""
    deadlock = confirmation.get("deadlock")
    if confirmation.get("status") != "confirmed" or not isinstance(deadlock, dict):
        return []
    lines = ["", "  the real deadlock of the confirming rerun:"]
    lines.extend(f"    {line}" if line else "" for line in deadlock.get("details", ()))
    return lines


def cycle_holder(edges: tuple[EdgeReport, ...] | list[EdgeReport]) -> str:
    """How a cycle's reasons and hints name its holders: ``"task"`` when asyncio
    tasks made every edge first, else ``"thread"``."""
    return "task" if edges and all(edge.holder == "task" for edge in edges) else "thread"


def scenario_lines(finding: Finding) -> list[str]:
    """A readable n-thread interleaving that would deadlock."""
    edges = finding.cycle
    names = [edge.thread for edge in edges]
    if len(set(names)) != len(names):
        kind = cycle_holder(edges)
        names = [f"{kind} {i + 1}" for i in range(len(edges))]
    width = 4 + max(24, *(len(name) for name in names), *(len(e.dst.label) + 15 for e in edges))
    lines = ["  possible scenario:"]
    lines.append(("    " + "".join(name.ljust(width) for name in names)).rstrip())
    lines.append(("    " + "".join(("-" * len(name)).ljust(width) for name in names)).rstrip())
    for i, edge in enumerate(edges):
        lines.append("    " + " " * (width * i) + f"lock({edge.src.label})")
    for i, edge in enumerate(edges):
        lines.append("    " + " " * (width * i) + f"lock({edge.dst.label})  <- waits")
    lines.append("    *** DEADLOCK ***")
    return lines


#: how the rule of a withdrawn finding starts (docs/concepts.md, "Locks used as signals")
WITHDRAWN_PREFIX = "withdrawn:"
#: the rule of a one-thread warning whose cycle became a full finding
SUPERSEDED_RULE = f"{WITHDRAWN_PREFIX} superseded: the same cycle became a full finding"


def split_suppressed(
    entries: list[tuple[str, Finding]],
) -> tuple[list[tuple[str, Finding]], list[tuple[str, Finding]]]:
    """(rule, finding) pairs as (withdrawn ones, ones a project rule suppressed)."""
    withdrawn = [entry for entry in entries if entry[0].startswith(WITHDRAWN_PREFIX)]
    return withdrawn, [entry for entry in entries if not entry[0].startswith(WITHDRAWN_PREFIX)]


def rule_shown(rule: str) -> str:
    """A suppression rule as a summary line names it: a baseline rule repeats the
    finding's message, so its fingerprint is enough."""
    return rule.partition(" (")[0] if rule.startswith("baseline ") else rule


def withdrawn_reasons(withdrawn: list[tuple[str, Finding]]) -> list[tuple[int, str]]:
    """How many withdrawn findings there are for each reason, and the reason in
    words (for the run's, the report command's and the plugin's summaries)."""
    superseded = sum(1 for rule, _ in withdrawn if rule == SUPERSEDED_RULE)
    reasons = []
    if len(withdrawn) > superseded:
        reasons.append(
            (len(withdrawn) - superseded, "a lock class of each turned out to be used as a signal")
        )
    if superseded:
        reasons.append((superseded, "a warning whose cycle became a full finding, superseded"))
    return reasons


# -- findings in a report (a dict, as lockorder.report.load() returns it) --------


def findings_of(report: dict[str, Any]) -> list[Finding]:
    """The report's findings."""
    return [Finding.from_dict(item) for item in report.get("findings", ())]


def suppressed_dicts(pairs: Iterable[tuple[str, Finding]]) -> list[dict[str, Any]]:
    """(rule, finding) pairs as a report's ``suppressed`` entries (suppressed_of()
    reads them back)."""
    return [{"rule": rule, "finding": finding.to_dict()} for rule, finding in pairs]


def suppressed_of(report: dict[str, Any]) -> list[tuple[str, Finding]]:
    """The report's suppressed (and withdrawn) findings, each with its rule."""
    return [
        (str(item["rule"]), Finding.from_dict(item["finding"]))
        for item in report.get("suppressed", ())
    ]
