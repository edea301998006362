"""Confirming potential deadlocks: steered reruns and their verdicts (docs/confirm.md).

For each potential-deadlock finding of a report, the program (``lockorder run``'s
recorded command) or the one test whose edges made the cycle is run again in a
subprocess, with a plan (lockorder._steer) that pauses each thread at an edge of
the cycle until the others arrive. If the real deadlock forms, lockorder's
wait-for check breaks it and the rerun's report holds a ``deadlock`` finding on
the cycle's lock classes: the finding is **confirmed**, and carries that report
and the command that reproduces it. Otherwise it gets a verdict with the reason
the pauses gave: ``not-confirmed`` (its edges were reached, the deadlock did not
form), ``not-reached`` (the rerun never made some edge) or ``not-attempted``
(nothing to rerun: two tests, another process, no command, the budget spent).

A confirmed finding is an error, even one first seen in one thread only.
Verdicts are never guessed: they come from what the rerun's report and its pause
log say.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from lockorder._findings import Finding

__all__ = [
    "STATUSES",
    "ConfirmOptions",
    "Rerun",
    "confirm_findings",
    "pytest_rerun",
    "run_rerun",
]

STATUSES = ("confirmed", "not-confirmed", "not-reached", "not-attempted")

#: the steered rerun's settings: record (raise mode raises before the deadlock
#: forms), a quick wait-for check, no long-wait or long-hold warnings (pauses trip them)
RERUN_ENV = {
    "LOCKORDER_MODE": "record",
    "LOCKORDER_DEADLOCK_CHECK": "0.02",
    "LOCKORDER_LONG_WAIT": "0",
    "LOCKORDER_LONG_HOLD": "0",
}


@dataclass(frozen=True)
class ConfirmOptions:
    """How hard to try (docs/confirm.md, "Options").

    Attributes:
        attempts: reruns per finding at most (a confirmed one stops them).
        budget: seconds per finding, all its reruns together.
        total: seconds for every finding together.
        pause: seconds a thread may wait at an edge for the others.
    """

    attempts: int = 3
    budget: float = 60.0
    total: float = 600.0
    pause: float = 2.0

    def text(self) -> str:
        return (
            f"attempts={self.attempts}, budget={self.budget:g} s, total={self.total:g} s, "
            f"pause={self.pause:g} s"
        )

    def changed(self) -> list[tuple[str, str]]:
        """The settings that differ from the defaults, each as (name, value text):
        what a command that reproduces a confirmation must give again."""
        default = ConfirmOptions()
        return [
            (name, f"{getattr(self, name):g}")
            for name in ("attempts", "budget", "total", "pause")
            if getattr(self, name) != getattr(default, name)
        ]


#: the settings, with what each takes (command-line, ini and [tool.lockorder] names)
OPTION_LIMITS = {
    "attempts": ("a whole number >= 1", int, 1.0),
    "budget": ("a number of seconds > 0", float, 0.0),
    "total": ("a number of seconds > 0", float, 0.0),
    "pause": ("a number of seconds > 0", float, 0.0),
}


def parse_option(name: str, value: Any) -> float | int | None:
    """``value`` for the confirm setting ``name``, or None if it is not valid."""
    _, kind, low = OPTION_LIMITS[name]
    if isinstance(value, bool):
        return None
    try:
        number = kind(value) if not isinstance(value, str) else kind(value.strip())
    except (TypeError, ValueError):
        return None
    if kind is int and isinstance(value, float) and not value.is_integer():
        return None
    if not (number >= low if kind is int else number > low) or number == float("inf"):
        return None
    return number  # type: ignore[no-any-return]


def argtype(name: str) -> Callable[[str], float | int]:
    """The argparse type of a confirm setting's option: a clear error naming it."""
    import argparse

    def check(value: str) -> float | int:
        number = parse_option(name, value)
        if number is None:
            raise argparse.ArgumentTypeError(f"invalid value {value!r} ({OPTION_LIMITS[name][0]})")
        return number

    return check


# --------------------------------------------------------------------------- a rerun

#: Runs the steered rerun: (plan file, report file to write, timeout in seconds)
#: -> (exit status or None if it was killed, the end of what it printed)
Rerun = Callable[[str, str, float], tuple[int | None, str]]


@dataclass
class Attempt:
    seconds: float
    pauses: list[dict[str, Any]] = field(default_factory=list)
    deadlock: dict[str, Any] | None = None
    other_deadlocks: list[str] = field(default_factory=list)
    status: int | None = 0
    problem: str = ""  # why the rerun gave no report


def _subprocess(argv: list[str], cwd: str, plan: str, timeout: float) -> tuple[int | None, str]:
    env = dict(os.environ)
    env.update(RERUN_ENV)
    env["LOCKORDER_STEER"] = plan
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=hasattr(os, "setsid"),
        )
        try:
            status: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            status = None
        output.seek(0)
        tail = output.read()[-4000:].decode(errors="replace")
    return status, tail


def _kill(process: subprocess.Popen[bytes]) -> None:
    """End the rerun and whatever it started (its own session)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            process.kill()
    except OSError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass


def run_rerun(
    command: list[str], cwd: str, options: ConfirmOptions | None = None
) -> tuple[Rerun, str]:
    """The rerun of ``lockorder run COMMAND`` (as the report recorded it), and the
    command line that reproduces a confirmation made with ``options``."""

    def rerun(plan: str, out: str, timeout: float) -> tuple[int | None, str]:
        argv = [sys.executable, "-m", "lockorder", "run", "--json", out, "--quiet", *command]
        return _subprocess(argv, cwd, plan, timeout)

    settings = [
        part
        for name, value in (options or ConfirmOptions()).changed()
        for part in (f"--confirm-{name}", value)
    ]
    return rerun, shlex.join(["lockorder", "run", "--confirm", *settings, *command])


def pytest_rerun(
    nodeid: str,
    rootdir: str,
    cwd: str,
    extra: Iterable[str] = (),
    options: ConfirmOptions | None = None,
) -> tuple[Rerun, str]:
    """The rerun of one test (its node id relative to ``rootdir``), run from
    ``cwd`` without xdist and the cache, and the command that reproduces a
    confirmation made with ``options``, from ``cwd``."""
    path, sep, rest = nodeid.partition("::")
    target = os.path.join(rootdir, path) + sep + rest
    # the node id as pytest takes it from cwd (a subdirectory of rootdir, or another)
    here = os.path.relpath(os.path.join(rootdir, path), cwd).replace(os.sep, "/") + sep + rest

    def rerun(plan: str, out: str, timeout: float) -> tuple[int | None, str]:
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            *extra,
            "--lockorder",
            "--lockorder-mode=record",
            f"--lockorder-report=json:{out}",
            "--lockorder-dump-after=0",
            # pauses must not trip the long-wait and long-hold warnings
            "--lockorder-long-wait=0",
            "--lockorder-long-hold=0",
            "-q",
            target,
        ]
        return _subprocess(argv, cwd, plan, timeout)

    settings = [
        f"--lockorder-confirm-{name}={value}"
        for name, value in (options or ConfirmOptions()).changed()
    ]
    return rerun, shlex.join(["pytest", "--lockorder", "--lockorder-confirm", *settings, here])


# --------------------------------------------------------------------------- the plan

_STDLIB = tuple(
    os.path.normcase(os.path.abspath(p)) + os.sep
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
)
_LOCKORDER = os.path.normcase(os.path.dirname(os.path.abspath(__file__))) + os.sep


def edge_site(stack: Iterable[Any], cwd: str) -> tuple[str, int] | None:
    """The line of the program that took an edge's second lock: the innermost
    frame of its stack outside the standard library and lockorder."""
    for filename, lineno, _ in reversed(list(stack)):
        if filename.startswith("<"):
            continue
        path = os.path.normcase(os.path.abspath(os.path.join(cwd, filename)))
        if path.startswith(_STDLIB) and "site-packages" not in path:
            continue
        if path.startswith(_LOCKORDER):
            continue
        return path, int(lineno)
    return None


def plan_for(finding: Finding, cwd: str, pause: float, log: str) -> dict[str, Any]:
    return {
        "version": 1,
        "targets": [
            {
                "edge": number,
                "src": edge.src.key,
                "dst": edge.dst.key,
                "site": edge_site(edge.stack, cwd),
            }
            for number, edge in enumerate(finding.cycle, 1)
        ],
        "pause": pause,
        "grace": 0.05,
        "max_pauses": 4,
        "log": log,
    }


def _keys(finding: Finding) -> set[str]:
    return {edge.src.key for edge in finding.cycle}


# --------------------------------------------------------------------------- attempts


def _attempt(finding: Finding, rerun: Rerun, cwd: str, pause: float, timeout: float) -> Attempt:
    from lockorder import report

    with tempfile.TemporaryDirectory(prefix="lockorder-confirm-") as work:
        plan_path = os.path.join(work, "plan.json")
        log = os.path.join(work, "pauses.jsonl")
        out = os.path.join(work, "rerun.json")
        with open(plan_path, "w", encoding="utf-8") as handle:
            json.dump(plan_for(finding, cwd, pause, log), handle)
        started = time.monotonic()
        status, tail = rerun(plan_path, out, timeout)
        attempt = Attempt(round(time.monotonic() - started, 3), status=status)
        try:
            with open(log, encoding="utf-8") as handle:
                attempt.pauses = [json.loads(line) for line in handle if line.strip()]
        except (OSError, ValueError):
            pass
        if status is None:
            attempt.problem = f"the rerun did not end within {timeout:.0f} s and was stopped"
            return attempt
        try:
            data = report.load(out)
        except report.ReportError:
            last = tail.strip().splitlines()[-1:] or ["(no output)"]
            attempt.problem = f"the rerun wrote no report (exit status {status}): {last[0]}"
            return attempt
    keys = _keys(finding)
    for raw in data.get("findings") or ():
        if raw.get("kind") != "deadlock":
            continue
        locks = {str(lock.get("key")) for lock in raw.get("locks") or ()}
        if locks == keys and attempt.deadlock is None:
            attempt.deadlock = raw
        else:
            attempt.other_deadlocks.append(str(raw.get("message", "")))
    return attempt


def _edge_text(finding: Finding, number: int) -> str:
    edge = finding.cycle[number - 1]
    return f"edge {number} ({edge.src.label} -> {edge.dst.label})"


def _reached(pauses: list[dict[str, Any]]) -> set[int]:
    """The edges the paused threads stood at (a pause stands for every edge alike)."""
    return {int(n) for p in pauses for n in p.get("edges") or (p.get("edge", 0),)}


#: the order a not-confirmed verdict gives the pauses' outcomes in: the most telling first
_OUTCOMES = ("disjoint", "thrash", "timeout", "stall", "interrupted")


def _pause_groups(pauses: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The pauses by outcome, the most telling outcome first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for pause in pauses:
        groups.setdefault(str(pause.get("outcome")), []).append(pause)
    rank = {outcome: n for n, outcome in enumerate(_OUTCOMES)}
    return sorted(groups.items(), key=lambda item: rank.get(item[0], len(rank)))


def _pause_clause(outcome: str, pauses: list[dict[str, Any]]) -> str:
    """One clause for the pauses of one outcome: where they stood (each place
    once), how many and how long, and the first one's reason."""
    places = []
    for pause in sorted(pauses, key=lambda p: min(p.get("edges") or (p.get("edge", 0),))):
        numbers = [str(n) for n in pause.get("edges") or (pause.get("edge"),)]
        which = f"edge {numbers[0]}" if len(numbers) == 1 else f"edges {', '.join(numbers)}"
        where = f" at {pause['site']}" if pause.get("site") else ""
        place = f"{which} ({pause.get('thread')!r}{where})"
        if place not in places:
            places.append(place)
    longest = max(float(pause.get("paused_s", 0)) for pause in pauses)
    count = (
        f"paused {longest:.2f} s"
        if len(pauses) == 1
        else f"{len(pauses)} pauses, the longest paused {longest:.2f} s"
    )
    return f"{outcome} at {' and '.join(places)} ({count}): {pauses[0].get('why')}"


def _verdict(
    finding: Finding, attempts: list[Attempt], reproduce: str, spent: float
) -> dict[str, Any]:
    base: dict[str, Any] = {"attempts": len(attempts), "seconds": round(spent, 2)}
    for number, attempt in enumerate(attempts, 1):
        if attempt.deadlock is not None:
            victim = attempt.deadlock.get("thread", "")
            return {
                "status": "confirmed",
                "reason": (
                    f"rerun {number} made the real deadlock: {attempt.deadlock.get('message')}; "
                    f"lockorder broke it with DeadlockError in {victim!r}"
                ),
                **base,
                "command": reproduce,
                "deadlock": attempt.deadlock,
                "pauses": attempt.pauses,
            }
    edges = range(1, len(finding.cycle) + 1)
    reached = [attempt for attempt in attempts if _reached(attempt.pauses) >= set(edges)]
    if not reached:
        problems = [a.problem for a in attempts if a.problem]
        if problems and not any(a.pauses for a in attempts):
            return {"status": "not-confirmed", "reason": problems[-1], **base}
        seen = {n for a in attempts for n in _reached(a.pauses)}
        missing = [_edge_text(finding, n) for n in edges if n not in seen]
        if not missing:  # every edge, but never all in one rerun
            reason = "no rerun made every edge of the cycle"
        else:
            reason = (
                "the rerun never made "
                + ", ".join(missing)
                + " with the other locks held: the program took another path"
            )
        return {"status": "not-reached", "reason": reason, **base}
    best = reached[-1]
    groups = _pause_groups(best.pauses)
    outcomes = [outcome for outcome, _ in groups]
    if outcomes[0] == "disjoint":  # it explains the other pauses: they are tallied
        rest = [f"{len(ps)} {outcome}" for outcome, ps in groups[1:]]
        parts = [_pause_clause("disjoint", groups[0][1])]
        if rest:
            parts[0] += f" (the other pauses: {', '.join(rest)})"
    else:
        parts = [_pause_clause(outcome, ps) for outcome, ps in groups]
    hints = []
    if "disjoint" in outcomes:
        hints.append(
            "the cycle forms only when its threads take the same locks (share an object); "
            "in this run each took its own"
        )
    elif "stall" in outcomes:
        hints.append(
            "the threads of the edges did not overlap in this run (one waits, with no "
            "timeout, for the other's end or signal)"
        )
    if "thrash" in outcomes:
        hints.append("another thread needed a lock the paused thread held")
    if "timeout" in outcomes:
        hints.append(
            "a longer pause (--confirm-pause, --lockorder-confirm-pause) may let the other "
            "thread arrive"
        )
    if best.other_deadlocks:
        hints.append("the rerun deadlocked on other locks: " + "; ".join(best.other_deadlocks))
    reason = "; ".join(parts)
    if hints:
        reason += ". " + "; ".join(hints)
    reason += ". Not confirmed is not proof of safety: another schedule may still deadlock"
    return {"status": "not-confirmed", "reason": reason, **base, "pauses": best.pauses}


def confirm_one(
    finding: Finding,
    rerun: Rerun,
    reproduce: str,
    cwd: str,
    options: ConfirmOptions,
    left: float,
) -> dict[str, Any]:
    """Rerun for ``finding`` until confirmed, out of attempts or out of time."""
    allowed = min(options.budget, left)
    started = time.monotonic()
    attempts: list[Attempt] = []
    while len(attempts) < options.attempts:
        remaining = allowed - (time.monotonic() - started)
        if remaining < 1.0:
            break
        attempt = _attempt(finding, rerun, cwd, options.pause, remaining)
        attempts.append(attempt)
        if attempt.deadlock is not None:
            break
        if attempt.status is None:  # a rerun that hangs would hang again
            break
    if not attempts:
        return not_attempted(f"the confirm budget ({options.total:g} s in all) was spent")
    return _verdict(finding, attempts, reproduce, time.monotonic() - started)


def not_attempted(reason: str) -> dict[str, Any]:
    return {"status": "not-attempted", "reason": reason, "attempts": 0, "seconds": 0.0}


def apply(finding: Finding, confirmation: dict[str, Any]) -> Finding:
    """``finding`` with its verdict; a confirmed one is an error whatever it was."""
    if confirmation["status"] == "confirmed":
        return replace(finding, severity="error", confirmation=confirmation)
    return replace(finding, confirmation=confirmation)


def confirm_findings(
    findings: list[Finding],
    rerun_for: Callable[[Finding], tuple[Rerun, str] | str],
    cwd: str,
    options: ConfirmOptions,
    progress: Callable[[str], None] | None = None,
) -> list[Finding]:
    """Every potential deadlock of ``findings`` with its verdict (the others as
    they are). ``rerun_for`` gives a finding's rerun and reproducing command, or
    the reason there is none (not-attempted)."""
    started = time.monotonic()
    out = []
    for finding in findings:
        if finding.kind != "potential-deadlock" or not finding.cycle:
            out.append(finding)
            continue
        how = rerun_for(finding)
        left = options.total - (time.monotonic() - started)
        if any(edge.holder == "task" for edge in finding.cycle):
            how = (
                "asyncio tasks made its edges: a task cannot be paused without blocking "
                "its whole event loop, so a steered rerun cannot confirm it (docs/asyncio.md)"
            )
        if isinstance(how, str):
            confirmation = not_attempted(how)
        elif left < 1.0:
            confirmation = not_attempted(
                f"the confirm budget ({options.total:g} s in all) was spent on earlier findings"
            )
        else:
            rerun, reproduce = how
            if progress is not None:
                progress(f"confirming: {finding.message}")
            confirmation = confirm_one(finding, rerun, reproduce, cwd, options, left)
        out.append(apply(finding, confirmation))
    return out


def edge_tests(finding: Finding) -> list[str]:
    """The tests that made the cycle's edges."""
    return sorted({t for edge in finding.cycle for t in (edge.test, *edge.tests) if t})


def summary_line(confirmation: dict[str, Any]) -> str:
    """One line: the verdict, the attempts and the time."""
    status = confirmation.get("status", "?")
    attempts = confirmation.get("attempts", 0)
    seconds = confirmation.get("seconds", 0)
    if status == "not-attempted":
        return f"{status}: {confirmation.get('reason', '')}"
    return (
        f"{status} ({attempts} rerun{'s' if attempts != 1 else ''}, {seconds:g} s): "
        f"{confirmation.get('reason', '')}"
    )
