"""The recipes of docs/recipes.md under lockorder: verdicts, reports and the page.

Every recipe and wrong version in docs/recipes/ is run under ``pytest --lockorder``
by docs/recipes/regenerate.py: one generated test per module, one subprocess per
batch (the plugin patches ``threading`` for the whole process), the default
``raise`` mode. The two batches run once per module of tests (module-scoped
fixtures); each test here asserts one example's verdict from the outcome of its
generated test and lockorder's JSON report, so a failure names the example.

Also: docs/recipes.md shows what this run printed; ``python -m lockorder run``
agrees on a few modules; every module runs as a plain program (but the real
deadlock, which refuses to run without lockorder to break it).
"""

from __future__ import annotations

import difflib
import importlib.util
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
RECIPES_DIR = REPO / "docs" / "recipes"

#: no generated test may take longer than this ("a few seconds")
MAX_SECONDS = 5.0


def _load_regenerate() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "lockorder_recipes_regenerate", RECIPES_DIR / "regenerate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while they are made
    spec.loader.exec_module(module)
    return module


regenerate = _load_regenerate()
EXAMPLES = {example.module: example for example in (*regenerate.RECIPES, *regenerate.WRONG)}


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return regenerate.run_examples(
        regenerate.RECIPES, tmp_path_factory.mktemp("recipes"), "recipes"
    )


@pytest.fixture(scope="module")
def wrong_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return regenerate.run_examples(regenerate.WRONG, tmp_path_factory.mktemp("wrong"), "wrong")


# -- the recipes are clean ------------------------------------------------------------------


@pytest.mark.parametrize("example", regenerate.RECIPES, ids=lambda example: example.module)
def test_recipe_is_clean(recipe_run: Any, example: Any) -> None:
    outcome = recipe_run.outcome(example)
    assert outcome.outcome == "passed", outcome.text or recipe_run.output
    assert recipe_run.findings(example) == []
    assert outcome.seconds < MAX_SECONDS


def test_recipe_session_has_no_finding_at_all(recipe_run: Any) -> None:
    """Not even a warning, nor a finding outside the tests."""
    assert recipe_run.returncode == 0, recipe_run.output
    assert recipe_run.report["findings"] == []
    assert "\nno findings\n" in recipe_run.output


# -- each wrong version is caught, with the right locks named --------------------------------


def site(module: str, snippet: str, after: str = "") -> str:
    """``<module>.py:<line>`` of the first line holding ``snippet`` (below the line
    holding ``after``): how a lock made there is named in a report."""
    lines = (RECIPES_DIR / f"{module}.py").read_text("utf-8").splitlines()
    start = next(n for n, line in enumerate(lines) if after in line) if after else 0
    number = next(n for n, line in enumerate(lines) if n >= start and snippet in line)
    return f"{module}.py:{number + 1}"


def lock_id(lock: dict[str, Any]) -> str:
    """A lock of a finding: its name, or the file name and line that created it."""
    if lock["name"]:
        return str(lock["name"])
    path, _, line = str(lock["key"]).rpartition(":")
    return f"{Path(path).name}:{line}"


@dataclass(frozen=True)
class Caught:
    """What lockorder must report for a wrong version, and nothing else."""

    module: str
    kinds: tuple[str, ...]
    locks: frozenset[str]
    severity: str = "error"
    #: the threads that made the cycle's edges (potential deadlocks)
    threads: frozenset[str] = field(default_factory=frozenset)
    #: a part of the finding's reason
    reason: str = ""


CAUGHT = [
    Caught(
        "wrong_counter_reentry",
        ("self-deadlock",),
        frozenset({site("wrong_counter_reentry", "self._value_lock = threading.Lock()")}),
        reason="no other thread exists that could release it",  # raised at once
    ),
    Caught(
        "wrong_unordered_xy",
        ("potential-deadlock",),
        frozenset(
            {
                site("wrong_unordered_xy", "x_lock = threading.Lock()"),
                site("wrong_unordered_xy", "y_lock = threading.Lock()"),
            }
        ),
        threads=frozenset({"thread_1", "thread_2"}),
    ),
    Caught("wrong_nested_acquire", ("order-violation",), frozenset({"x_lock", "y_lock"})),
    Caught(
        "wrong_transfer",
        ("potential-deadlock",),
        frozenset({site("wrong_transfer", "self.lock = threading.Lock()")}),
        threads=frozenset({"alice-pays", "bob-pays"}),
    ),
    Caught(
        "wrong_exchange",
        ("potential-deadlock",),
        frozenset(
            {
                site("wrong_exchange", "self._lock = threading.Lock()", after="class Exchange"),
                site("wrong_exchange", "self._lock = threading.Lock()", after="class Task"),
            }
        ),
        threads=frozenset({"subscriber", "publisher"}),
    ),
    Caught(
        "wrong_producer_holds_lock",
        ("wait-while-holding",),
        frozenset({site("wrong_producer_holds_lock", "self._lock = threading.Lock()")}),
        severity="warning",
    ),
    # both found by the producer's join(), one after the other, after one wait slice
    Caught(
        "wrong_producer_joins_consumer",
        ("join-while-holding", "deadlock"),
        frozenset({site("wrong_producer_joins_consumer", "self._lock = threading.Lock()")}),
    ),
]


def test_every_wrong_version_has_an_expectation() -> None:
    assert [caught.module for caught in CAUGHT] == [w.module for w in regenerate.WRONG]


@pytest.mark.parametrize("caught", CAUGHT, ids=lambda caught: caught.module)
def test_wrong_version_is_caught(wrong_run: Any, caught: Caught) -> None:
    example = EXAMPLES[caught.module]
    findings = wrong_run.findings(example)
    outcome = wrong_run.outcome(example)
    assert [f["kind"] for f in findings] == list(caught.kinds), outcome.text or outcome.lockorder
    for finding in findings:
        assert finding["severity"] == caught.severity
        assert {lock_id(lock) for lock in finding["locks"]} == caught.locks
        if caught.threads:  # made by two threads: a full finding, not "seen in one thread"
            assert not finding["single_thread"]
            assert {edge["thread"] for edge in finding["cycle"]} == caught.threads
        assert caught.reason in finding["reason"]
    # the default raise mode: an error fails the test with the report (after the
    # exception main() raises, if any, was caught); a warning fails nothing
    if caught.severity == "error":
        assert outcome.outcome == "failed"
        assert outcome.text.startswith(f"lockorder ERROR: {caught.kinds[0]}: "), outcome.text
    else:
        assert outcome.outcome == "passed", outcome.text
        assert outcome.lockorder.startswith(f"lockorder WARNING: {caught.kinds[0]}: ")
    assert outcome.seconds < MAX_SECONDS


def test_producer_waiting_on_an_event_is_a_warning_only(wrong_run: Any) -> None:
    """An event names no thread that will set it: lockorder cannot know that the
    consumer needs the lock, and the consumer's timed acquire takes no part in the
    wait-for check. The untimed wait is a warning, and the test passes."""
    example = EXAMPLES["wrong_producer_holds_lock"]
    (finding,) = wrong_run.findings(example)
    assert finding["kind"] == "wait-while-holding"
    assert finding["thread"] == "producer"
    assert "Event.wait()" in finding["message"]
    assert wrong_run.outcome(example).outcome == "passed"


def test_producer_joining_the_consumer_is_a_deadlock_broken_in_the_producer(
    wrong_run: Any,
) -> None:
    """A join() names the thread that ends it: the real deadlock is followed and
    broken. The producer started waiting last (the consumer was already blocked on
    the lock), so its join() raises DeadlockError and both threads end."""
    example = EXAMPLES["wrong_producer_joins_consumer"]
    outcome = wrong_run.outcome(example)
    joined, deadlock = wrong_run.findings(example)
    assert joined["kind"] == "join-while-holding" and joined["thread"] == "producer"
    assert "waited on join('consumer')" in joined["message"]
    assert "which thread 'consumer' acquires" in joined["message"]
    assert deadlock["kind"] == "deadlock" and deadlock["thread"] == "producer"
    assert deadlock["message"].startswith("'producer' waits for join('consumer')")
    assert "'consumer' waits for Lock " in deadlock["message"]
    assert "'producer' (the last to start waiting) gets DeadlockError" in deadlock["reason"]
    # main() returned (so exactly one thread was stopped, and nothing hung): the
    # plugin failed a passing test with the two reports, not with main()'s error
    assert outcome.outcome == "failed"
    assert outcome.text.startswith("lockorder ERROR: join-while-holding: ")
    assert "\n\nlockorder ERROR: deadlock: " in outcome.text
    # broken after one wait slice (0.2 s): well within about a second
    assert outcome.seconds < 1.5


def test_wrong_session_prints_the_reports(wrong_run: Any) -> None:
    """The session fails; the terminal shows each report and the lockorder summary."""
    assert wrong_run.returncode == pytest.ExitCode.TESTS_FAILED, wrong_run.output
    output = wrong_run.output
    for caught in CAUGHT:
        outcome = wrong_run.outcome(EXAMPLES[caught.module])
        if outcome.outcome == "failed":
            assert outcome.text.splitlines()[0] in output
    assert "= lockorder =" in output
    summary = output[output.index("= lockorder =") :]
    for kind, count in [
        ("potential-deadlock", 3),
        ("self-deadlock", 1),
        ("order-violation", 1),
        ("wait-while-holding", 1),
        ("join-while-holding", 1),
        ("deadlock", 1),
    ]:
        assert f"\n{kind}: {count}\n" in summary


# -- the page --------------------------------------------------------------------------------


def test_page_shows_this_run(recipe_run: Any, wrong_run: Any) -> None:
    page = regenerate.PAGE.read_text("utf-8")
    fresh = regenerate.update_page(page, regenerate.render(recipe_run, wrong_run))
    diff = "".join(
        difflib.unified_diff(
            page.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            "docs/recipes.md",
            "this run",
        )
    )
    assert not diff, f"run python docs/recipes/regenerate.py:\n{diff}"


# -- the same verdicts from `lockorder run`; plain programs ------------------------------------


@pytest.mark.parametrize(
    ("module", "status", "summary"),
    [
        ("ordered_acquire", 0, "lockorder: 0 finding(s)"),
        ("thread_pool", 0, "lockorder: 0 finding(s)"),
        ("process_pool", 0, "lockorder: 0 finding(s)"),
        ("wrong_unordered_xy", 3, "lockorder: 1 finding(s) (1 error(s), 0 warning(s))"),
        # `lockorder run` installs lockorder and breaks deadlocks: main() runs
        ("wrong_producer_joins_consumer", 3, "lockorder: 2 finding(s) (2 error(s), 0 warning(s))"),
    ],
)
def test_lockorder_run_agrees(module: str, status: int, summary: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lockorder", "run", "--json", "", f"docs/recipes/{module}.py"],
        cwd=REPO,
        env=regenerate.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == status, done.stdout + done.stderr
    assert summary in done.stderr


#: modules that fail as plain programs, with the error they print
PLAIN_FAILURES = {
    # lockorder raises it itself
    "wrong_nested_acquire": "lockorder.errors.LockOrderViolation",
    # deadlocks for real: refuses to start without lockorder to break it
    "wrong_producer_joins_consumer": "RuntimeError: wrong_producer_joins_consumer deadlocks "
    "for real: it runs only where lockorder is installed and breaks deadlocks",
}


def test_every_module_runs_as_a_plain_program() -> None:
    """``python docs/recipes/<module>.py`` without lockorder's patching: each ends,
    and only the misuse of ``lockorder.acquire()`` and the real deadlock (which
    refuses to run) fail."""
    processes = {
        path.stem: subprocess.Popen(
            [sys.executable, str(path)],
            cwd=REPO,
            env=regenerate.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in sorted(RECIPES_DIR.glob("*.py"))
        if path.stem in EXAMPLES
    }
    assert set(processes) == set(EXAMPLES)
    failed = {}
    for module, process in processes.items():
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        expected = 1 if module in PLAIN_FAILURES else 0
        if process.returncode != expected:
            failed[module] = f"exit status {process.returncode}\n{out}{err}"
        elif expected:
            assert PLAIN_FAILURES[module] in err, err
    assert not failed, failed
