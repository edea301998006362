"""The bundled examples behave as README.md and docs/deadlocks.md show."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import lockorder_run

ROOT = Path(__file__).resolve().parent.parent


def run_example(path: str) -> subprocess.CompletedProcess[str]:
    return lockorder_run(path, ROOT)


def test_readme_bank_transfer() -> None:
    result = run_example("examples/bank_transfer.py")
    assert result.returncode == 3
    assert "checking=80 savings=120" in result.stdout
    assert "two locks of one class taken in both orders" in result.stderr
    assert "possible scenario:" in result.stderr


@pytest.mark.parametrize(
    ("example", "expected", "status"),
    [
        (
            "two_threads",
            [  # the victim is whichever thread started waiting last: either
                "*: DeadlockError",
                "no hang",
                "lockorder ERROR: deadlock: '*' waits for Lock "
                "examples/deadlocks/two_threads.py:* held by '*'*",
                "    holds: Lock examples/deadlocks/two_threads.py:6 (acquired at "
                "examples/deadlocks/two_threads.py:12 in post_payment)",
                "    holds: Lock examples/deadlocks/two_threads.py:7 (acquired at "
                "examples/deadlocks/two_threads.py:20 in run_audit)",
            ],
            3,
        ),
        (
            "join_while_holding",
            [
                "lockorder ERROR: join-while-holding: thread 'MainThread' waited on "
                "join('reloader') while holding Lock examples/deadlocks/join_while_holding.py:10*",
                "  Lock examples/deadlocks/join_while_holding.py:10 acquired at "
                "examples/deadlocks/join_while_holding.py:23 in <module>",
                '    File "examples/deadlocks/join_while_holding.py", line 24, in <module>',
            ],
            3,
        ),
        (
            "future_result",
            [
                "42",
                "lockorder ERROR: join-while-holding: * waited on Future.result() *",
                "  Lock examples/deadlocks/future_result.py:6 acquired at "
                "examples/deadlocks/future_result.py:17 in <module>",
            ],
            3,
        ),
        (
            "wait_while_holding",
            [
                "lockorder WARNING: wait-while-holding: thread 'MainThread' waited in "
                "Event.wait() while holding Lock examples/deadlocks/wait_while_holding.py:5",
                "  Lock examples/deadlocks/wait_while_holding.py:5 acquired at "
                "examples/deadlocks/wait_while_holding.py:13 in <module>",
            ],
            0,
        ),
        (
            "wedged",
            [
                "lockorder dump: checked locks held and waited for, by thread",
                "  waits for: Lock examples/deadlocks/wedged.py:12, held by 'refresher' *",
                "  holds: Lock examples/deadlocks/wedged.py:12 (acquired at "
                "examples/deadlocks/wedged.py:17 in refresher)",
                '    File "examples/deadlocks/wedged.py", line 18, in refresher',
            ],
            0,
        ),
    ],
)
def test_deadlock_examples_print_what_the_docs_show(
    example: str, expected: list[str], status: int
) -> None:
    result = run_example(f"examples/deadlocks/{example}.py")
    assert result.returncode == status, result.stderr
    output = (result.stdout + result.stderr).splitlines()
    docs = (ROOT / "docs" / "deadlocks.md").read_text()
    import fnmatch

    for pattern in expected:
        assert any(fnmatch.fnmatchcase(line, pattern) for line in output), (pattern, output)
        core = pattern.rstrip("*")
        if "*" not in core:
            assert core in docs, f"docs/deadlocks.md no longer shows: {core}"


def test_the_rare_deadlock_example_never_deadlocks_unsteered() -> None:
    """examples/deadlocks/rare.py (docs/confirm.md): a plain run finds the
    potential deadlock and never the real one (its confirm is in the docs)."""
    result = run_example("examples/deadlocks/rare.py")
    assert result.returncode == 3, result.stderr
    assert "lockorder ERROR: potential-deadlock: lock-order inversion" in result.stderr
    assert "ERROR: deadlock" not in result.stderr
