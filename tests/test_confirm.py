"""Confirm (issue 14): steered reruns turn potential deadlocks into real ones.

Each program in tests/data/confirm is a shape: five that can deadlock though a
plain run never does (confirmed), and four that cannot or that the rerun does
not reach (not-confirmed with the pause's reason, not-reached). Every rerun is
bounded: the pause limit, the per-finding budget and the subprocess timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import lockorder
from lockorder import _steer
from lockorder._confirm import parse_option
from lockorder._state import checker

DATA = Path(__file__).parent / "data" / "confirm"
TIMEOUT = 120


def _lockorder(*args: str, cwd: Path = DATA, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "lockorder", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _confirm_run(
    tmp_path: Path, script: str, *extra: str, argv: tuple[str, ...] = ()
) -> tuple[Any, dict[str, Any]]:
    out = tmp_path / "report.json"
    done = _lockorder("run", "--json", str(out), "--confirm", *extra, script, *argv)
    assert out.exists(), done.stderr[-3000:]
    return done, json.loads(out.read_text())


def _potential(data: dict[str, Any]) -> dict[str, Any]:
    found = [f for f in data["findings"] if f["kind"] == "potential-deadlock"]
    assert len(found) == 1, [f["message"] for f in data["findings"]]
    return found[0]


@pytest.mark.parametrize(
    ("script", "threads"),
    [
        ("staggered.py", {"payments", "auditor"}),
        ("three.py", {"ab", "bc", "ca"}),
        ("same_class.py", {"rent", "refund"}),
        ("pool.py", None),
        ("condition_queue.py", {"producer", "cleaner"}),
    ],
)
def test_confirmable_shapes_are_confirmed(
    tmp_path: Path, script: str, threads: set[str] | None
) -> None:
    done, data = _confirm_run(tmp_path, script)
    finding = _potential(data)
    confirmation = finding["confirmation"]
    assert confirmation["status"] == "confirmed", confirmation["reason"]
    assert finding["severity"] == "error"
    assert done.returncode == 3, done.stderr[-3000:]
    assert 1 <= confirmation["attempts"] <= 3
    assert 0 < confirmation["seconds"] < 60
    # the real deadlock's report: every thread's held and awaited locks
    deadlock = confirmation["deadlock"]
    assert deadlock["kind"] == "deadlock"
    assert {lock["key"] for lock in deadlock["locks"]} == {
        edge["from"]["key"] for edge in finding["cycle"]
    }
    details = "\n".join(deadlock["details"])
    assert "holds:" in details and "waits for:" in details and "stack" in details
    if threads is not None:
        named = {line.split("'")[1] for line in deadlock["details"] if line.startswith("thread")}
        assert named == threads
    assert confirmation["command"] == f"lockorder run --confirm {script}"
    assert {p["outcome"] for p in confirmation["pauses"]} == {"cycle"}
    assert "CONFIRMED" in done.stderr and "the real deadlock of the confirming rerun" in done.stderr


def test_a_pool_warning_confirmed_becomes_an_error(tmp_path: Path) -> None:
    """Both work items ran on one worker: a one-thread warning, exit 0. Confirmed,
    it is an error, and the run fails (3)."""
    out = tmp_path / "plain.json"
    plain = _lockorder("run", "--json", str(out), "pool.py")
    assert plain.returncode == 0, plain.stderr[-3000:]
    first = _potential(json.loads(out.read_text()))
    assert first["severity"] == "warning" and first["single_thread"] is True
    done, data = _confirm_run(tmp_path, "pool.py")
    finding = _potential(data)
    assert finding["single_thread"] is True  # what the first run saw stays said
    assert finding["severity"] == "error" and finding["confirmation"]["status"] == "confirmed"
    assert data["summary"]["errors"] == 1 and data["summary"]["confirmed"] == 1
    assert data["run"]["lockorder_exit_status"] == 3 and done.returncode == 3


@pytest.mark.parametrize(
    ("script", "attempts", "outcomes", "words"),
    [
        ("sequential.py", 2, {"stall"}, ["'MainThread' waits in Thread.join()"]),
        ("thrash.py", 1, {"thrash", "stall"}, ["'MainThread' waited for Lock thrash.py:8"]),
        ("handoff.py", 1, {"stall"}, ["'second' waits in Event.wait()"]),
    ],
)
def test_shapes_that_cannot_deadlock_are_not_confirmed(
    tmp_path: Path, script: str, attempts: int, outcomes: set[str], words: list[str]
) -> None:
    done, data = _confirm_run(tmp_path, script, "--confirm-attempts", str(attempts))
    finding = _potential(data)
    confirmation = finding["confirmation"]
    assert confirmation["status"] == "not-confirmed", confirmation["reason"]
    assert confirmation["attempts"] == attempts
    assert "deadlock" not in confirmation and "command" not in confirmation
    assert {p["outcome"] for p in confirmation["pauses"]} == outcomes
    for word in words:
        assert word in confirmation["reason"]
    assert "Not confirmed is not proof of safety" in confirmation["reason"]
    assert finding["severity"] == "error"  # its level stays what it was
    plural = "s" if attempts > 1 else ""
    assert f"confirm: not-confirmed ({attempts} rerun{plural}" in done.stderr


def test_a_path_the_rerun_does_not_take_is_not_reached(tmp_path: Path) -> None:
    marker = tmp_path / "ran-before"
    _, data = _confirm_run(
        tmp_path, "not_reached.py", "--confirm-attempts", "2", argv=(str(marker),)
    )
    confirmation = _potential(data)["confirmation"]
    assert confirmation["status"] == "not-reached", confirmation["reason"]
    assert (
        "never made edge 2 (Lock not_reached.py:9 -> Lock not_reached.py:8)"
        in (confirmation["reason"])
    )


def test_lockorder_confirm_rewrites_a_report(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    first = _lockorder("run", "--json", str(report), "--quiet", "staggered.py")
    assert first.returncode == 3
    assert "confirmation" not in json.loads(report.read_text())["findings"][0]
    out = tmp_path / "confirmed.json"
    done = _lockorder("confirm", str(report), "-o", str(out))
    assert done.returncode == 3, done.stderr[-3000:]
    assert json.loads(out.read_text())["findings"][0]["confirmation"]["status"] == "confirmed"
    assert "confirmation" not in json.loads(report.read_text())["findings"][0]
    signature = json.loads(report.read_text())["findings"][0]["signature"]
    # --finding picks findings; an unknown signature is a usage error
    wrong = _lockorder("confirm", str(report), "--finding", "potential-deadlock:nope")
    assert wrong.returncode == 2
    assert "no finding of" in wrong.stderr and "'potential-deadlock:nope'" in wrong.stderr
    picked = _lockorder("confirm", str(report), "--finding", signature, "--attempts", "1")
    assert picked.returncode == 3
    assert json.loads(report.read_text())["findings"][0]["confirmation"]["attempts"] == 1


def test_a_report_without_a_command_is_not_attempted(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    _lockorder("run", "--json", str(report), "--quiet", "staggered.py")
    merged = tmp_path / "merged.json"
    assert _lockorder("merge", str(report), "-o", str(merged)).returncode == 0
    done = _lockorder("confirm", str(merged))
    assert done.returncode == 0, done.stderr[-3000:]
    confirmation = json.loads(merged.read_text())["findings"][0]["confirmation"]
    assert confirmation["status"] == "not-attempted"
    assert "records no command to rerun" in confirmation["reason"]
    assert "confirm: not-attempted" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--confirm-attempts", "0", "x.py"], "--confirm-attempts: invalid value '0'"),
        (["run", "--confirm-pause", "soon", "x.py"], "--confirm-pause: invalid value 'soon'"),
        (["confirm", "missing.json"], "missing.json"),
    ],
)
def test_bad_confirm_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = _lockorder(*args, cwd=tmp_path)
    assert done.returncode in (2, 4), done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_tool_lockorder_confirm_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.lockorder]\nconfirm_attempts = 1\n")
    for name in ("staggered.py",):
        (tmp_path / name).write_text((DATA / name).read_text())
    done = _lockorder("run", "--json", "r.json", "--confirm", "staggered.py", cwd=tmp_path)
    data = json.loads((tmp_path / "r.json").read_text())
    assert "attempts=1" in data["settings"]["confirm"], done.stderr[-2000:]
    (tmp_path / "pyproject.toml").write_text('[tool.lockorder]\nconfirm_pause = "long"\n')
    bad = _lockorder("run", "--confirm", "staggered.py", cwd=tmp_path)
    assert bad.returncode == 2
    assert "tool.lockorder.confirm_pause" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("attempts", "3", 3),
        ("attempts", 2.0, 2),
        ("attempts", 2.5, None),
        ("attempts", "0", None),
        ("attempts", True, None),
        ("pause", "0.5", 0.5),
        ("pause", "0", None),
        ("budget", "inf", None),
        ("total", "-1", None),
    ],
)
def test_confirm_option_values(name: str, value: Any, expected: Any) -> None:
    assert parse_option(name, value) == expected


def test_an_unreadable_plan_leaves_the_run_unsteered(tmp_path: Path) -> None:
    done = _lockorder(
        "run", "--json", "", "sequential.py", env={"LOCKORDER_STEER": str(tmp_path / "no.json")}
    )
    assert "LOCKORDER_STEER=" in done.stderr and "the run is not steered" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.returncode == 3


def test_steering_keeps_target_chains_off_the_fast_path(record_mode: None) -> None:
    """The chain cache must not let a repeated acquire skip the hook: a thread
    pauses at every pass until its pauses are spent, then the chain is cached."""
    a = lockorder.Lock(name="steer a")
    b = lockorder.Lock(name="steer b")
    steering = _steer.Steering(
        [_steer.Target(1, "steer a", "steer b", None)], pause=0.05, grace=0.01, max_pauses=3
    )
    arrived: list[int] = []
    original = steering._hold

    def counting(*args: Any) -> None:
        arrived.append(1)
        original(*args)  # no other thread arrives: each pause ends at its limit

    steering._hold = counting  # type: ignore[method-assign]
    checker.use_steering(steering)
    try:
        done = threading.Event()

        def loop() -> None:
            for _ in range(6):
                with a, b:
                    pass
            done.set()

        worker = threading.Thread(target=loop)
        worker.start()
        worker.join(timeout=30)
        assert done.is_set()
    finally:
        checker.use_steering(None)
    assert len(arrived) == 3  # paused three times, then the chain went fast


def test_a_pause_outlasts_a_timed_wait_once(record_mode: None, tmp_path: Path) -> None:
    """While the rest of the program is in a timed wait, the pause is extended to
    the wait's end plus the limit; the same thread's next timed waits (a polling
    loop) do not extend it again, and a safety-net wait of 30 s or more (the main
    thread's join here) extends nothing."""
    a = lockorder.Lock(name="timed a")
    b = lockorder.Lock(name="timed b")
    log = tmp_path / "pauses.jsonl"
    steering = _steer.Steering(
        [
            _steer.Target(1, "timed a", "timed b", None),
            _steer.Target(2, "timed b", "timed a", None),
        ],
        pause=0.2,
        grace=0.01,
        max_pauses=1,
        log=str(log),
    )
    waiting, stop = threading.Event(), threading.Event()
    never = threading.Event()

    def poller() -> None:
        waiting.set()
        never.wait(0.8)  # the timed wait the pause outlasts
        while not stop.wait(0.05):  # then polling: no further extension
            pass

    def worker() -> None:
        with a, b:  # pauses at edge 1; nobody comes to edge 2
            pass

    checker.use_steering(steering)
    try:
        polling = threading.Thread(target=poller)
        polling.start()
        assert waiting.wait(TIMEOUT)
        working = threading.Thread(target=worker, name="worker")
        working.start()
        working.join(timeout=60)  # 30 s or more: a safety net, not extended
        assert not working.is_alive()
    finally:
        checker.use_steering(None)
        stop.set()
        polling.join(timeout=TIMEOUT)
    (pause,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert pause["outcome"] == "timeout", pause
    assert 0.8 <= pause["paused_s"] < 2.5, pause
    assert "counted from the end of the program's timed wait" in pause["why"]


def test_no_plan_no_steering() -> None:
    assert "LOCKORDER_STEER" not in os.environ
    assert checker.steering is None


# --------------------------------------------------------------------------- renderings


@pytest.fixture(scope="module")
def confirmed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One confirmed finding, and a not-confirmed one, in one report."""
    from lockorder import report

    directory = tmp_path_factory.mktemp("confirmed")
    reports = []
    for script in ("staggered.py", "handoff.py"):
        out = directory / f"{script}.json"
        _lockorder("run", "--json", str(out), "--confirm", "--confirm-attempts", "1", script)
        reports.append(report.load(str(out)))
    data = reports[0]
    data["findings"] += reports[1]["findings"]
    return data


def test_text_says_confirmed_and_shows_the_real_deadlock(confirmed: dict[str, Any]) -> None:
    from lockorder import report

    text = report.format_text(confirmed)
    assert "lockorder ERROR: potential-deadlock (CONFIRMED): lock-order inversion" in text
    assert "  confirm: confirmed (1 rerun, " in text
    assert "    reproduce: lockorder run --confirm --confirm-attempts 1 staggered.py" in text
    assert "  the real deadlock of the confirming rerun:" in text
    assert "  confirm: not-confirmed (1 rerun, " in text


def test_html_shows_a_badge_and_the_verdict(confirmed: dict[str, Any]) -> None:
    from lockorder.report.html import render_html

    page = render_html(confirmed)
    assert '<span class="badge confirm confirmed"' in page and ">confirmed</span>" in page
    assert '<span class="badge confirm not-confirmed"' in page
    assert 'data-confirm="confirmed"' in page
    assert '<option value="confirmed">confirmed only</option>' in page
    assert "the real deadlock of the confirming rerun" in page
    assert "<code>lockorder run --confirm --confirm-attempts 1 staggered.py</code>" in page


def test_sarif_carries_the_verdict(confirmed: dict[str, Any]) -> None:
    from lockorder.report.sarif import to_sarif
    from tests.test_report_sarif import _assert_valid

    log = to_sarif(confirmed, root=confirmed["cwd"])
    _assert_valid(log)
    first, second = log["runs"][0]["results"]
    assert first["properties"]["confirmed"] is True
    assert first["properties"]["confirmation"]["status"] == "confirmed"
    assert "deadlock" not in first["properties"]["confirmation"]
    assert first["message"]["text"].startswith("Confirmed: a steered rerun made this deadlock")
    assert (
        "Reproduce with: lockorder run --confirm --confirm-attempts 1 staggered.py"
        in first["message"]["text"]
    )
    assert second["properties"]["confirmed"] is False
    assert "Confirm: not-confirmed:" in second["message"]["text"]
