"""SARIF 2.1.0 output: a report's findings as a log GitHub code scanning reads.

Each finding is one result. Its (single) location is the line that closed the
cycle: the innermost frame, preferring the program's own code, of the stack of
the last edge of ``finding.cycle`` (edges are kept in the order they were made,
so the closing edge is last). A finding without a cycle is placed at the
innermost frame of its own stack, or else at a lock's creation site. The other
edges' acquires and the locks' creation sites are related locations, linked
from the result's message; each edge's stack is a thread flow of one code flow.

Paths below the root (the working directory unless told otherwise) become URIs
relative to ``%SRCROOT%``; other paths (the standard library's, say) become
absolute ``file://`` URIs.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import quote

from lockorder._findings import KINDS, EdgeReport, Finding, LockRef, findings_of, suppressed_of
from lockorder._sites import Frame
from lockorder.report.fingerprint import fingerprint

__all__ = ["FINGERPRINT_KEY", "SARIF_SCHEMA", "SARIF_VERSION", "SRCROOT", "to_sarif"]

SARIF_VERSION = "2.1.0"
#: the OASIS SARIF 2.1.0 schema (Errata 01, the final version)
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
#: the uriBaseId of paths below the root
SRCROOT = "%SRCROOT%"
#: the key of lockorder's own fingerprint in ``partialFingerprints``
FINGERPRINT_KEY = "lockorder/v1"

_TAGS = ["concurrency", "locking"]

#: kind -> (rule name, default level, full description, help)
_RULES: dict[str, tuple[str, str, str, str]] = {
    "potential-deadlock": (
        "PotentialDeadlock",
        "error",
        "Locks were taken in orders that form a cycle in the lock-order graph (one thread "
        "held A while acquiring B, another held B while acquiring A): some interleaving of "
        "these paths deadlocks, even if this run did not. No common lock was held around "
        "all the edges. A cycle whose edges were all made by one thread, or one of whose "
        "lock classes never had a lock acquired by two threads, is reported as a warning.",
        "Take the locks in one global order everywhere (lockorder.acquire() takes several "
        "locks in a fixed order), hold one common lock around all these paths, or stop "
        "holding the first lock while taking the second. The alert is at the acquire that "
        "closed the cycle; the other edges' acquires and the locks' creation sites are "
        "linked from its message, and the code flow shows each edge's stack.",
    ),
    "deadlock": (
        "Deadlock",
        "error",
        "Threads were blocked in a wait-for cycle, each waiting for a lock another one "
        "held: a real deadlock, broken by raising DeadlockError in one of them.",
        "Take the locks in one global order. The message names who held and waited for "
        "what; the finding's details carry every thread's stack.",
    ),
    "self-deadlock": (
        "SelfDeadlock",
        "error",
        "A thread made a blocking acquire of a non-reentrant Lock that it already held, "
        "and no other thread released it: the acquire would wait forever.",
        "Do not take the lock twice on one path, or use an RLock if re-entry is intended. "
        "A Lock that another thread releases on purpose (a signal) can be declared with "
        "lockorder.Lock(signal=True).",
    ),
    "release-not-held": (
        "ReleaseNotHeld",
        "warning",
        "A Lock was released by a thread other than the one that acquired it: legal for a "
        "threading.Lock, and a bug unless the lock is used as a signal.",
        "Release the lock in the thread that acquired it (a with block), or signal with an "
        "Event or Semaphore. An intended hand-off can be declared with "
        "lockorder.Lock(signal=True).",
    ),
    "held-at-exit": (
        "HeldAtExit",
        "warning",
        "A thread ended while holding checked locks: any thread that needs them waits forever.",
        "Release the locks on every path out of the thread: with blocks or try/finally.",
    ),
    "held-at-test-end": (
        "HeldAtTestEnd",
        "warning",
        "Under the pytest plugin, a thread still held checked locks when a test ended.",
        "Have the threads a test starts release their locks (and join them) before the test ends.",
    ),
    "order-violation": (
        "OrderViolation",
        "error",
        "lockorder.acquire() was asked for a lock that sorts before one the thread "
        "already holds, breaking the global order acquire() exists to keep.",
        "Take all the locks in one lockorder.acquire() call, release the held lock first, "
        "or give the locks ranks (rank=) that match the order the code needs.",
    ),
    "join-while-holding": (
        "JoinWhileHolding",
        "error",
        "A thread called join() or Future.result() while holding a lock that the joined "
        "thread or work item acquires: if it needs the lock before it can finish, both "
        "wait forever.",
        "Release the lock before joining, or keep the joined thread or work item from taking it.",
    ),
    "wait-while-holding": (
        "WaitWhileHolding",
        "warning",
        "A thread waited without a timeout on an Event, Barrier, Condition or Queue while "
        "holding a lock: if the thread that would end the wait needs that lock first, both "
        "wait forever.",
        "Release the lock before waiting, or wait with a timeout.",
    ),
    "long-wait": (
        "LongWait",
        "warning",
        "An acquire waited longer than the long_wait threshold, without a wait-for cycle.",
        "Look at what the holder does while it holds the lock; keep critical sections short.",
    ),
    "long-hold": (
        "LongHold",
        "warning",
        "A lock was held longer than the long_hold threshold.",
        "Look at what the holder does while it holds the lock; keep critical sections "
        "short, and do no blocking I/O or waits under a lock.",
    ),
}

_DEADLOCK_KINDS = frozenset({"potential-deadlock", "deadlock", "self-deadlock"})


def to_sarif(report: dict[str, Any], *, root: str | None = None) -> dict[str, Any]:
    """The SARIF 2.1.0 log of ``report`` (as :func:`lockorder.report.load` returns it).

    ``root`` is the directory that relative URIs start from (``%SRCROOT%``): the
    repository root, by default the working directory.
    """
    paths = _Paths(os.path.abspath(root if root is not None else os.getcwd()))
    findings = findings_of(report)
    suppressed = suppressed_of(report)
    every = findings + [finding for _, finding in suppressed]
    kinds = [kind for kind in KINDS if any(f.kind == kind for f in every)]
    kinds += list(dict.fromkeys(f.kind for f in every if f.kind not in KINDS))
    rules = [_rule(kind, every) for kind in kinds]
    index = {kind: number for number, kind in enumerate(kinds)}
    results = [_result(finding, index[finding.kind], paths) for finding in findings]
    # suppressed ([tool.lockorder]) and withdrawn findings: results marked as
    # suppressed, which code-scanning tools show apart and do not alert on
    for why, finding in suppressed:
        result = _result(finding, index[finding.kind], paths)
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": why}]
        results.append(result)

    driver: dict[str, Any] = {"name": "lockorder", "rules": rules}
    tool_version = (report.get("tool") or {}).get("version")
    if isinstance(tool_version, str) and tool_version:
        driver["version"] = tool_version
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [{"executionSuccessful": True, "workingDirectory": {"uri": paths.root_uri}}],
        "originalUriBaseIds": {SRCROOT: {"uri": paths.root_uri}},
        "results": results,
        "properties": {
            "lockorder": {
                key: report[key]
                for key in ("version", "created", "python", "settings", "run", "summary")
                if key in report
            }
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


# -- rules ----------------------------------------------------------------------------


def _rule(kind: str, findings: list[Finding]) -> dict[str, Any]:
    short = KINDS.get(kind, kind)
    if kind in _RULES:
        name, level, full, help_text = _RULES[kind]
    else:
        name = "".join(part.capitalize() for part in kind.split("-"))
        errors = any(f.kind == kind and f.severity == "error" for f in findings)
        level = "error" if errors else "warning"
        full = short
        help_text = "See lockorder's documentation of finding kinds (docs/concepts.md)."
    tags = [*_TAGS, "deadlock"] if kind in _DEADLOCK_KINDS else list(_TAGS)
    return {
        "id": kind,
        "name": name,
        "shortDescription": {"text": _sentence(short[:1].upper() + short[1:])},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": level},
        "help": {"text": help_text},
        "properties": {"tags": tags, "problem.severity": level},
    }


# -- results --------------------------------------------------------------------------


def _result(finding: Finding, rule_index: int, paths: _Paths) -> dict[str, Any]:
    related: list[dict[str, Any]] = []
    edge_links: list[str] = []
    primary: dict[str, Any] | None = None
    closed_here = False
    cycle = finding.cycle
    if cycle:
        closing = cycle[-1]
        primary = paths.location(
            _pick(closing.stack, paths),
            f"edge {len(cycle)}, which closed the cycle: {_edge_text(closing)}",
        )
        closed_here = primary is not None
        for number, edge in enumerate(cycle[:-1], 1):
            text = f"edge {number}: {_edge_text(edge)}"
            location = paths.location(_pick(edge.stack, paths), text, len(related) + 1)
            if location is not None:
                related.append(location)
                edge_links.append(_link(f"edge {number}", location["id"]))
    elif finding.stack:
        primary = paths.location(_pick(finding.stack, paths), f"found in thread {finding.thread!r}")
    held_links: list[str] = []
    for number, edge in enumerate(cycle, 1):
        for label, at in zip(edge.held, edge.held_at, strict=False):
            if at is None:
                continue
            text = f"edge {number}: {label} acquired here, held while acquiring {edge.dst.label}"
            location = paths.location(at, text, len(related) + 1)
            if location is not None:
                related.append(location)
                held_links.append(_link(f"{label} (edge {number})", location["id"]))

    lock_links: list[str] = []
    seen: set[tuple[str, int]] = set()
    for lock in finding.locks:
        where = _lock_site(lock)
        if where is None:
            continue
        if where in seen:
            continue
        text = _created_text(lock, finding.locks)
        location = paths.location(Frame(where[0], where[1], lock.function), text, len(related) + 1)
        if location is None:
            continue
        seen.add(where)
        related.append(location)
        lock_links.append(_link(_lock_short(lock), location["id"]))
        if primary is None:
            primary = paths.location(Frame(where[0], where[1], lock.function), text)

    text = _sentence(finding.message)
    confirmation = finding.confirmation or {}
    if confirmation.get("status") == "confirmed":
        text = "Confirmed: a steered rerun made this deadlock happen. " + text
    if finding.reason:
        text += f" Why: {_sentence(finding.reason)}"
    if confirmation:
        why = _sentence(str(confirmation.get("reason", "")))
        text += f" Confirm: {confirmation.get('status')}: {why}"
        if confirmation.get("command"):
            text += f" Reproduce with: {confirmation['command']} ."
    if edge_links:
        others = "edges" if len(edge_links) > 1 else "edge"
        here = ", here," if closed_here else ""
        text += f" Edge {len(cycle)}{here} closed the cycle; the other {others}: "
        text += f"{_joined(edge_links)}."
    if held_links:
        text += f" The held locks were acquired at {_joined(held_links)}."
    if lock_links:
        were = "The locks were" if len(lock_links) > 1 else "The lock was"
        text += f" {were} created at {_joined(lock_links)}."

    result: dict[str, Any] = {
        "ruleId": finding.kind,
        "ruleIndex": rule_index,
        "level": "error" if finding.severity == "error" else "warning",
        "message": {"text": text},
        "locations": [primary] if primary is not None else [],
    }
    if related:
        result["relatedLocations"] = related
    flows = _thread_flows(finding, paths)
    if flows:
        message = (
            "a possible deadlock: each thread holds its first lock, then waits for the next"
            if cycle
            else f"thread {finding.thread!r}"
        )
        result["codeFlows"] = [{"message": {"text": message}, "threadFlows": flows}]
    result["partialFingerprints"] = {FINGERPRINT_KEY: fingerprint(finding)}
    result["properties"] = _properties(finding)
    return result


def _properties(finding: Finding) -> dict[str, Any]:
    threads = [finding.thread] if finding.thread else []
    tests = [finding.test] if finding.test else []
    for edge in finding.cycle:
        threads += [edge.thread, *edge.threads]
        tests += [t for t in (edge.test, *edge.tests) if t]
    properties: dict[str, Any] = {
        "severity": finding.severity,
        "thread": finding.thread,
        "threads": list(dict.fromkeys(t for t in threads if t)),
        "test": finding.test,
        "tests": list(dict.fromkeys(tests)),
        "locks": [lock.label for lock in finding.locks],
        "signature": finding.signature,
    }
    if finding.cycle:
        properties["single_thread"] = finding.single_thread
    if finding.details:
        properties["details"] = list(finding.details)
    if finding.confirmation is not None:
        # the verdict without the rerun's own report (the JSON report has it)
        properties["confirmation"] = {
            key: value for key, value in finding.confirmation.items() if key != "deadlock"
        }
        properties["confirmed"] = finding.confirmation.get("status") == "confirmed"
    return properties


def _thread_flows(finding: Finding, paths: _Paths) -> list[dict[str, Any]]:
    """One thread flow per edge of the cycle (or one of the finding's own stack)."""
    flows: list[dict[str, Any]] = []
    if finding.cycle:
        for number, edge in enumerate(finding.cycle, 1):
            flow = _thread_flow(
                edge.stack,
                f"edge {number}: {_edge_text(edge)}",
                f"acquires {edge.dst.label} while holding {edge.src.label}",
                paths,
            )
            if flow is not None:
                flows.append(flow)
    elif finding.stack:
        flow = _thread_flow(
            finding.stack, f"thread {finding.thread!r}", f"{finding.kind} found here", paths
        )
        if flow is not None:
            flows.append(flow)
    return flows


def _thread_flow(
    stack: tuple[Frame, ...], message: str, last: str, paths: _Paths
) -> dict[str, Any] | None:
    usable = [
        (frame, physical)
        for frame in stack
        if (physical := paths.physical(frame.filename, frame.lineno)) is not None
    ]
    if not usable:
        return None
    locations = []
    for depth, (frame, physical) in enumerate(usable):
        text = f"in {frame.function}"
        if depth == len(usable) - 1:
            text += f": {last}"
        locations.append(
            {
                "location": {"physicalLocation": physical, "message": {"text": text}},
                "nestingLevel": depth,
            }
        )
    return {"message": {"text": message}, "locations": locations}


# -- text -----------------------------------------------------------------------------


def _sentence(text: str) -> str:
    text = text.strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text


def _edge_text(edge: EdgeReport) -> str:
    text = (
        f"{edge.src.label} held while acquiring {edge.dst.label}, "
        f"first made by {edge.holder} {edge.thread!r}"
    )
    others = [t for t in edge.threads if t != edge.thread]
    if others:
        text += f" (also by {', '.join(repr(t) for t in others)})"
    if edge.test:
        text += f" in test {edge.test}"
    return text


def _lock_short(lock: LockRef) -> str:
    return lock.name if lock.name else f"{lock.kind} {lock.site}"


def _created_text(lock: LockRef, locks: tuple[LockRef, ...]) -> str:
    what = f"lock {lock.name!r} ({lock.kind})" if lock.name else lock.kind
    instances = [other.instance for other in locks if other.key == lock.key and other.instance]
    if len(instances) > 1:
        what += f" ({' and '.join(i.strip('()') for i in instances)} of this class)"
    text = f"{what} created here"
    if lock.function:
        text += f", in {lock.function}"
    return text


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _link(text: str, location_id: int) -> str:
    escaped = text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return f"[{escaped}]({location_id})"


# -- locations ------------------------------------------------------------------------


def _lock_site(lock: LockRef) -> tuple[str, int] | None:
    """Where ``lock`` was created: the absolute file of its key when it has one."""
    path, _, line = lock.site.rpartition(":")
    if not path or not line.isdigit():
        return None
    if os.path.isabs(lock.source_file):
        path = lock.source_file
    return path, int(line)


def _pick(stack: tuple[Frame, ...], paths: _Paths) -> Frame | None:
    """The innermost frame in the program's own code, else the innermost usable one."""
    fallback = None
    for frame in reversed(stack):
        if paths.physical(frame.filename, frame.lineno) is None:
            continue
        if paths.is_user(frame.filename):
            return frame
        if fallback is None:
            fallback = frame
    return fallback


def _library_dirs() -> tuple[str, ...]:
    dirs = []
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            path = sysconfig.get_path(name)
        except KeyError:
            continue
        if path:
            dirs.append(os.path.normcase(os.path.abspath(path)))
    return tuple(dict.fromkeys(dirs))


class _Paths:
    """Turns report paths into SARIF artifact locations relative to ``root``."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        uri = Path(root).as_uri()
        self.root_uri = uri if uri.endswith("/") else uri + "/"
        self.library = _library_dirs()

    def _relative(self, path: str) -> str | None:
        """``path`` (absolute) relative to the root, or None when it is not below it."""
        for candidate, root in ((path, self.root), (os.path.realpath(path), self.real_root)):
            try:
                if os.path.commonpath([root, candidate]) == root:
                    rel = os.path.relpath(candidate, root)
                    return None if rel == os.curdir else rel
            except ValueError:  # another drive
                pass
        return None

    def _absolute(self, path: str) -> str:
        return os.path.normpath(path if os.path.isabs(path) else os.path.join(self.root, path))

    def is_user(self, path: str) -> bool:
        """Below the root, and neither installed packages nor the standard library."""
        absolute = self._absolute(path)
        rel = self._relative(absolute)
        if rel is None:
            return False
        if {"site-packages", "dist-packages"} & set(PurePath(rel).parts):
            return False
        normal = os.path.normcase(absolute)
        return not any(
            os.path.commonpath([normal, lib]) == lib
            for lib in self.library
            if os.path.splitdrive(lib)[0] == os.path.splitdrive(normal)[0]
        )

    def artifact(self, path: str) -> dict[str, Any] | None:
        if not path or path.startswith("<"):  # <string>, <frozen ...>, <unknown>
            return None
        absolute = self._absolute(path)
        rel = self._relative(absolute)
        if rel is None:
            return {"uri": Path(absolute).as_uri()}
        return {"uri": quote(PurePath(rel).as_posix(), safe="/"), "uriBaseId": SRCROOT}

    def physical(self, path: str, line: int) -> dict[str, Any] | None:
        artifact = self.artifact(path)
        if artifact is None:
            return None
        return {"artifactLocation": artifact, "region": {"startLine": max(1, int(line))}}

    def location(
        self, frame: Frame | None, message: str, location_id: int | None = None
    ) -> dict[str, Any] | None:
        if frame is None:
            return None
        physical = self.physical(frame.filename, frame.lineno)
        if physical is None:
            return None
        location: dict[str, Any] = {}
        if location_id is not None:
            location["id"] = location_id
        location["physicalLocation"] = physical
        location["message"] = {"text": message}
        return location
