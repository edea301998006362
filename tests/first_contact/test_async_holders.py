"""Who holds an asyncio acquire, and a limiter's units (issues 28 and 24, item 1).

Two correct programs a new async user runs first were errors: tasks made to take
a unit each and collected later with ``asyncio.wait(..., timeout)`` (issue 28:
``nested-acquire`` charged to the task that started them, which held nothing),
and a dispatcher taking a unit per worker it starts, each worker giving its unit
back (issue 24: ``nested-acquire`` at the dispatcher's second unit). Both exited
3 under ``lockorder run`` and failed under ``pytest --lockorder``. Now they are
silent, while a task that holds a unit and awaits another of the same semaphore
(asyncpg's nested ``pool.acquire()``) is still an error, shown at the program's
line.

Each test runs the real commands in subprocesses, from a directory of its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.first_contact import _run

TIMEOUT = 60

#: issue 28's program, as filed; WAITERS with asyncio.Lock, Condition and a TaskGroup
COLLECTED = """
import asyncio

async def main():
    gate = asyncio.Semaphore(3)
    waiters = [asyncio.ensure_future(gate.acquire()) for _ in range(8)]
    done, pending = await asyncio.wait(waiters, timeout=0.2)
    for w in pending:
        w.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for _ in done:
        gate.release()
    print("taken", len(done))

asyncio.run(main())
"""

LOCK = COLLECTED.replace("asyncio.Semaphore(3)", "asyncio.Lock()")
CONDITION = COLLECTED.replace("asyncio.Semaphore(3)", "asyncio.Condition()")
TASK_GROUP = """
import asyncio

async def main():
    gate = asyncio.Semaphore(3)
    async with asyncio.TaskGroup() as group:
        waiters = [group.create_task(gate.acquire()) for _ in range(8)]
        done, pending = await asyncio.wait(waiters, timeout=0.2)
        for w in pending:
            w.cancel()
    for _ in done:
        gate.release()
    print("taken", len(done))

asyncio.run(main())
"""

#: issue 24's program, as filed
LIMITER = """
import asyncio

async def main():
    total = asyncio.Semaphore(2)

    async def worker():
        try:
            await asyncio.sleep(0.01)
        finally:
            total.release()          # the permit is handed to the worker, which gives it back

    tasks = []
    for i in range(5):
        await total.acquire()        # the dispatcher takes a permit for each worker it starts
        tasks.append(asyncio.create_task(worker()))
    await asyncio.gather(*tasks)
    print("done")

asyncio.run(main())
"""

#: asyncpg's documented bug: a nested pool.acquire() by a holder of a connection,
#: directly and through gather()
NESTED = """
import asyncio

pool = asyncio.Semaphore(2)
connections = asyncio.Semaphore(2)

async def handler():
    async with pool:
        async with pool:  # nested
            pass

async def through_gather():
    async with connections:
        await asyncio.gather(connections.acquire())  # gathered
        connections.release()

asyncio.run(handler())
asyncio.run(through_gather())
print("done")
"""


def _lockorder_run(cwd: Path, program: str) -> subprocess.CompletedProcess[str]:
    (cwd / "app.py").write_text(program)
    return _run.lockorder(
        cwd, "run", "--json", "", "app.py", env=_run.user_environment(), timeout=TIMEOUT
    )


def _line(program: str, marker: str) -> int:
    (number,) = [n for n, text in enumerate(program.splitlines(), 1) if text.endswith(marker)]
    return number


@pytest.mark.parametrize(
    "program",
    [
        pytest.param(COLLECTED, id="semaphore"),
        pytest.param(LOCK, id="lock"),
        pytest.param(CONDITION, id="condition"),
        pytest.param(
            TASK_GROUP,
            id="task-group",
            marks=pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is 3.11+"),
        ),
    ],
)
def test_tasks_made_to_acquire_and_collected_later_are_no_finding(
    tmp_path: Path, program: str
) -> None:
    done = _lockorder_run(tmp_path, program)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("taken ")
    assert "lockorder: 0 finding(s) (0 error(s), 0 warning(s))" in done.stderr, done.stderr


def test_the_issues_program_passes_under_the_pytest_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_gate.py").write_text(
        COLLECTED.replace("asyncio.run(main())", "def test_gate():\n    asyncio.run(main())")
    )
    done = _run.pytest(
        tmp_path,
        "-p",
        "no:cacheprovider",
        "-p",
        "no:asyncio",
        "--lockorder",
        env=_run.user_environment(),
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_a_dispatcher_handing_units_to_its_workers_is_no_finding(tmp_path: Path) -> None:
    done = _lockorder_run(tmp_path, LIMITER)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done\n"
    assert "lockorder: 0 finding(s) (0 error(s), 0 warning(s))" in done.stderr, done.stderr
    assert "nested-acquire" not in done.stderr and "held-at-exit" not in done.stderr


def test_a_nested_unit_stays_an_error_shown_at_the_programs_line(tmp_path: Path) -> None:
    done = _lockorder_run(tmp_path, NESTED)
    assert done.returncode == 3, done.stderr
    assert done.stdout == "done\n"
    assert "lockorder: 2 finding(s) (2 error(s), 0 warning(s))" in done.stderr, done.stderr
    blocks = done.stderr.split("lockorder ERROR: ")[1:]
    assert len(blocks) == 2, done.stderr
    for block, function, marker in zip(
        blocks, ("handler", "through_gather"), ("# nested", "# gathered"), strict=True
    ):
        assert block.startswith("nested-acquire: task 'Task-") and f"({function})'" in block
        stack = block.split("stack (most recent call last):\n", 1)[1].splitlines()
        assert stack[0] == f'    File "app.py", line {_line(NESTED, marker)}, in {function}', block
        assert not stack[1:] or not stack[1].startswith("    File"), block  # nothing of asyncio's
