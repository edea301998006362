"""Run every recipe and wrong version under ``pytest --lockorder``; keep docs/recipes.md true.

    python docs/recipes/regenerate.py          # rewrite the generated parts of docs/recipes.md
    python docs/recipes/regenerate.py --check  # exit 1 if the page differs from a fresh run

Each example module has a ``main()`` that runs it once, bounded. For each batch
(the recipes, the wrong versions) this script writes a test file with one test
per module (``test_<module>``: import the module, call ``main()``, expect the
exception listed for it), runs it in a fresh ``python -m pytest --lockorder``
(the plugin patches ``threading`` for the whole process) from the repository
root, so the reports name ``docs/recipes/<module>.py``, and collects the
outcome of each test (JUnit XML) and lockorder's JSON report. The same
functions back ``tests/test_recipes.py``, which asserts the verdicts and that
the page is up to date.

The generated parts of the page lie between ``<!-- BEGIN GENERATED name -->``
and ``<!-- END GENERATED name -->``; everything else is written by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PAGE",
    "RECIPES",
    "RECIPES_DIR",
    "REPO",
    "WRONG",
    "Example",
    "Outcome",
    "Run",
    "environment",
    "render",
    "run_examples",
    "update_page",
]

RECIPES_DIR = Path(__file__).resolve().parent
REPO = RECIPES_DIR.parents[1]
PAGE = REPO / "docs" / "recipes.md"

#: a batch that takes longer than this is killed (a recipe hangs: a bug)
RUN_TIMEOUT = 120.0


@dataclass(frozen=True)
class Example:
    """A recipe or a wrong version: one module of docs/recipes with a ``main()``.

    Attributes:
        module: the module name (``docs/recipes/<module>.py``).
        title: what it shows, for the page.
        note: what to know about it, for the page (Markdown).
        raises: the name of the lockorder exception ``main()`` raises under the
            plugin, if any.
    """

    module: str
    title: str
    note: str = ""
    raises: str | None = None

    @property
    def test(self) -> str:
        """The name of its generated test."""
        return f"test_{self.module}"

    @property
    def path(self) -> Path:
        return RECIPES_DIR / f"{self.module}.py"


RECIPES: tuple[Example, ...] = (
    Example(
        "event_start_signal",
        "Event as a start signal (countdown)",
        "A fresh `Event` per signal; no sleeps.",
    ),
    Example(
        "periodic_timer",
        "PeriodicTimer on a Condition, two waiting threads",
        "A tick counter instead of the seed's 0/1 flag, which lets a waiter that is "
        "two ticks late sleep through both; 10 ms ticks, stopped when done.",
    ),
    Example(
        "semaphore_workers",
        "Semaphore-gated workers",
        "The gate (`Semaphore(0)` released by the main thread) is learned as a signal; "
        "the limit (`BoundedSemaphore(2)`) is a hold, with edges into the stats lock "
        "and a barrier, always in one order.",
    ),
    Example(
        "producer_consumer_event",
        "Producer/consumer with a per-item Event",
        "The producer waits on the item's event holding no lock; the stream ends with "
        "`None` instead of a 3 s timeout.",
    ),
    Example(
        "shared_counter",
        "SharedCounter with a Lock; with a class-level RLock and re-entry",
        "`decr()` → `incr()` under the `RLock` is a re-entry: no edge, no finding. "
        "The same under a `Lock` is wrong_counter_reentry.",
    ),
    Example(
        "ordered_acquire",
        "Ordered acquire() with the thread_1 / thread_2 demo",
        "`lockorder.acquire()`: both threads run at once and take `x_lock` first.",
    ),
    Example(
        "lazy_connection",
        "Thread-local LazyConnection",
        "Against a local HTTP server; keeps the `family` and `type` it is given "
        "(the seed ignores them).",
    ),
    Example(
        "thread_pool",
        "Thread-pool echo server and ThreadPoolExecutor fetches",
        "Local servers, bounded connections; the URL opener ignores proxy settings. "
        "The executors' own locks are checked too.",
    ),
    Example(
        "process_pool",
        "ProcessPoolExecutor map / submit / done-callback",
        "2 workers, 6 small tasks. Only this process's locks are checked: the "
        "workers' are not collected.",
    ),
    Example(
        "actor",
        "Actor with a mailbox and ActorExit",
        "The terminated event is made in `__init__` (the seed makes it in `start()`).",
    ),
    Example(
        "pubsub_exchange",
        "Pub/sub Exchange with subscribe()",
        "The seed has no lock (attach during send: *set changed size during "
        "iteration*; `get_exchange()` can make two exchanges). Here a lock each, and "
        "`send()` delivers outside its lock.",
    ),
    Example(
        "generator_scheduler",
        "Generator task scheduler",
        "One thread, no locks: nothing to check.",
    ),
    Example(
        "pollable_queue",
        "PollableQueue with select",
        "`socketpair()` on every platform; the consumer stops at `None`.",
    ),
)

WRONG: tuple[Example, ...] = (
    # First: no other thread exists yet, so the self-deadlock is certain at once.
    Example(
        "wrong_counter_reentry",
        "SharedCounter's `decr()` calls `incr()` under a plain `Lock`",
        "Without lockorder: hangs forever. Under the plugin `SelfDeadlockError` is "
        "raised at once, since no other thread could release the lock.",
        raises="SelfDeadlockError",
    ),
    Example(
        "wrong_unordered_xy",
        "thread_1 / thread_2 take `x_lock` and `y_lock` in opposite orders, without acquire()",
        "The threads run one after the other: the run never hangs, and is still caught.",
    ),
    Example(
        "wrong_nested_acquire",
        "`acquire()` itself violated: nested calls in the wrong order",
        "`LockOrderViolation` before anything is taken, in every mode.",
        raises="LockOrderViolation",
    ),
    Example(
        "wrong_transfer",
        "A transfer between two accounts, taken in both orders",
        "One lock class (`Account.__init__`), checked per instance.",
    ),
    Example(
        "wrong_exchange",
        "An Exchange whose `send()` holds its lock while a subscriber takes its own; "
        "another path attaches under the subscriber's lock",
        "The two locks are named by the lines that made them.",
    ),
    Example(
        "wrong_producer_holds_lock",
        "A producer holds a lock while it waits on an event for a consumer that needs it",
        "A real deadlock with one lock, so no lock-order cycle: lockorder reports the "
        "untimed wait while holding a lock, as a warning.",
    ),
    # Needs lockorder to end (it breaks the deadlock): main() refuses to run without it.
    Example(
        "wrong_producer_joins_consumer",
        "A producer holds a lock while it joins a consumer that needs it",
        "A real deadlock, broken: the producer gets `DeadlockError` from its `join()`.",
    ),
)

BATCH_FILES = {"recipes": "test_recipes_clean.py", "wrong": "test_wrong_versions.py"}

_INI = """\
[pytest]
pythonpath = {recipes}
faulthandler_timeout = 60
filterwarnings =
    error::pytest.PytestUnhandledThreadExceptionWarning
"""

_CONFTEST = '''\
"""Generated by docs/recipes/regenerate.py: keeps what pytest reported for each test."""

import json
import os

_OUTCOMES = {}


def pytest_runtest_logreport(report):
    name = report.nodeid.rpartition("::")[2]
    entry = _OUTCOMES.setdefault(
        name, {"outcome": "passed", "seconds": 0.0, "text": [], "lockorder": []}
    )
    entry["seconds"] += report.duration
    if report.failed:
        entry["outcome"] = "failed" if report.when == "call" else "error"
        entry["text"].append(str(report.longrepr))
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "xfailed" if hasattr(report, "wasxfail") else "skipped"
    for title, content in report.sections:
        if title.startswith("lockorder findings"):
            entry["lockorder"].append(content)


def pytest_sessionfinish(session):
    path = os.path.join(os.path.dirname(__file__), "outcomes.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(_OUTCOMES, handle, indent=1)
'''

_HEADER = '''\
"""Generated by docs/recipes/regenerate.py: one test per example module."""

import importlib

import pytest

import lockorder


def _main(name):
    """Import docs/recipes/<name>.py inside the test (its module-level locks are
    then made while the test runs) and run it once."""
    return importlib.import_module(name).main()
'''


def generated_tests(examples: Iterable[Example]) -> str:
    """The generated test file for ``examples``."""
    parts = [_HEADER]
    for example in examples:
        if example.raises:
            body = (
                f"    with pytest.raises(lockorder.{example.raises}):\n"
                f"        _main({example.module!r})\n"
            )
        else:
            body = f"    _main({example.module!r})\n"
        parts.append(f"\n\ndef {example.test}():\n{body}")
    return "".join(parts)


@dataclass(frozen=True)
class Outcome:
    """What happened to one generated test."""

    #: passed, failed, error, skipped or xfailed
    outcome: str
    seconds: float
    #: the failure (or error) text pytest printed, "" when it passed
    text: str
    #: the "lockorder findings" sections the plugin attached to a test it did not
    #: fail (warnings; shown by ``pytest -rA``)
    lockorder: str


@dataclass(frozen=True)
class Run:
    """One batch run under ``pytest --lockorder``."""

    directory: Path
    test_file: str
    returncode: int
    #: pytest's stdout and stderr
    output: str
    seconds: float
    outcomes: dict[str, Outcome]
    #: lockorder's JSON report (docs/report-schema.md)
    report: dict[str, Any]

    def outcome(self, example: Example) -> Outcome:
        try:
            return self.outcomes[example.test]
        except KeyError:
            raise KeyError(f"no outcome for {example.test} in:\n{self.output}") from None

    def findings(self, example: Example) -> list[dict[str, Any]]:
        """The findings the plugin attributed to ``example``'s test."""
        test_id = f"{self.test_file}::{example.test}"
        return [f for f in self.report.get("findings", ()) if f.get("test") == test_id]

    def normalize(self, text: str) -> str:
        """``text`` without this run's temporary directory in paths, and with the
        seconds each thread of a ``deadlock`` report had waited, which vary from
        run to run, masked as ``?.??``."""
        for directory in {str(self.directory), str(self.directory.resolve())}:
            text = text.replace(directory + os.sep, "")
        return _WAITED.sub(r"\g<1>?.??\g<2>", text).rstrip()


#: "waits for: ..., for 0.20 s" in a deadlock report
_WAITED = re.compile(r"^(\s+waits for: .*, for )\d+\.\d\d( s)$", re.MULTILINE)


def environment() -> dict[str, str]:
    """The environment of the subprocesses: no lockorder or pytest settings of ours."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LOCKORDER", "PYTEST_"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in docs/recipes
    return env


def run_examples(examples: Sequence[Example], directory: Path, batch: str, *options: str) -> Run:
    """Run ``examples`` as one ``pytest --lockorder`` session in a subprocess.

    Args:
        examples: the modules to run, in this order.
        directory: an empty directory for the generated files and reports.
        batch: ``"recipes"`` or ``"wrong"`` (names the generated test file).
        *options: more pytest options (e.g. ``--lockorder-mode=record``).

    Raises:
        subprocess.TimeoutExpired: the run took longer than ``RUN_TIMEOUT``.
    """
    test_file = BATCH_FILES[batch]
    ini = directory / "pytest.ini"
    ini.write_text(_INI.format(recipes=RECIPES_DIR), encoding="utf-8")
    (directory / test_file).write_text(generated_tests(examples), encoding="utf-8")
    (directory / "conftest.py").write_text(_CONFTEST, encoding="utf-8")
    report_path = directory / "lockorder.json"
    outcomes_path = directory / "outcomes.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(directory / test_file),
        "-c",
        str(ini),
        "--rootdir",
        str(directory),
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "--lockorder",
        f"--lockorder-report=json:{report_path}",
        *options,
    ]
    start = time.monotonic()
    # from the repository root, so reports name docs/recipes/<module>.py
    done = subprocess.run(
        command,
        cwd=REPO,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    seconds = time.monotonic() - start
    output = done.stdout + done.stderr
    outcomes = {}
    if outcomes_path.exists():
        for name, entry in json.loads(outcomes_path.read_text("utf-8")).items():
            outcomes[name] = Outcome(
                entry["outcome"],
                entry["seconds"],
                "\n".join(entry["text"]),
                "\n\n".join(entry["lockorder"]),
            )
    report = json.loads(report_path.read_text("utf-8")) if report_path.exists() else {}
    return Run(directory, test_file, done.returncode, output, seconds, outcomes, report)


# -- the page -------------------------------------------------------------------------


def _lock_label(lock: dict[str, Any]) -> str:
    where = f"`{lock['site']}`"
    label = f"`{lock['name']}` ({where})" if lock.get("name") else where
    return label + (f" {lock['instance']}" if lock.get("instance") else "")


def _classes_and_edges(run: Run, example: Example) -> tuple[int, int]:
    """How many lock classes the example's own code made, and edges among them."""
    path = str(example.path)
    graph = run.report.get("graph", {})
    keys = {c["key"] for c in graph.get("classes", ()) if c.get("file") == path}
    edges = [e for e in graph.get("edges", ()) if e["from"] in keys and e["to"] in keys]
    return len(keys), len(edges)


def _recipe_verdict(run: Run, example: Example) -> str:
    outcome = run.outcome(example)
    findings = run.findings(example)
    if outcome.outcome != "passed":
        return f"**test {outcome.outcome}**"
    if findings:
        kinds = ", ".join(sorted({f"{f['kind']} ({f['severity']})" for f in findings}))
        return f"**{len(findings)} finding(s)**: {kinds}"
    classes, edges = _classes_and_edges(run, example)
    if not classes:
        return "clean: no finding (no locks)"
    return f"clean: no finding ({_count(classes, 'lock class')}, {_count(edges, 'edge')} checked)"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}{'es' if what.endswith('s') else 's'}"


def _recipes_table(run: Run) -> str:
    rows = [
        "| # | recipe | module | verdict under `pytest --lockorder` | notes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for number, example in enumerate(RECIPES, 1):
        rows.append(
            f"| {number} | {example.title} | [{example.module}.py](recipes/{example.module}.py) "
            f"| {_recipe_verdict(run, example)} | {example.note} |"
        )
    return "\n".join(rows)


def _wrong_verdict(run: Run, example: Example) -> tuple[str, str, str]:
    findings = run.findings(example)
    outcome = run.outcome(example)
    if not findings:
        kinds = "none (not caught)"
        locks = "none"
    else:
        kinds = "; ".join(f"`{f['kind']}` ({f['severity']})" for f in findings)
        labels = dict.fromkeys(_lock_label(lock) for f in findings for lock in f["locks"])
        locks = ", ".join(labels)
    if outcome.outcome == "failed":
        test = "fails, with the report below"
    elif outcome.outcome == "passed" and findings:
        test = "passes, with the warning below attached (`pytest -rA` shows it)"
    else:
        test = outcome.outcome
    return kinds, locks, test


def _wrong_table(run: Run) -> str:
    rows = [
        "| mistake | module | finding | locks named | the test under `pytest --lockorder` |",
        "| --- | --- | --- | --- | --- |",
    ]
    for example in WRONG:
        kinds, locks, test = _wrong_verdict(run, example)
        rows.append(
            f"| {example.title} | [{example.module}.py](recipes/{example.module}.py) "
            f"| {kinds} | {locks} | {test} |"
        )
    return "\n".join(rows)


def _report_block(run: Run, example: Example) -> str:
    outcome = run.outcome(example)
    text = outcome.text if outcome.outcome == "failed" else outcome.lockorder
    if not text:
        return f"`{example.test}` {outcome.outcome}: lockorder reports nothing."
    return "```text\n" + run.normalize(text) + "\n```"


def render(recipes: Run, wrong: Run) -> dict[str, str]:
    """The generated blocks of the page, by name."""
    blocks = {"recipes-table": _recipes_table(recipes), "wrong-table": _wrong_table(wrong)}
    for example in WRONG:
        blocks[f"report {example.module}"] = _report_block(wrong, example)
    return blocks


def _marker(name: str) -> re.Pattern[str]:
    name = re.escape(name)
    return re.compile(
        rf"(<!-- BEGIN GENERATED {name} -->\n).*?(<!-- END GENERATED {name} -->)", re.DOTALL
    )


def update_page(page: str, blocks: dict[str, str]) -> str:
    """``page`` with each generated block replaced.

    Raises:
        ValueError: a block's markers are missing from the page.
    """
    for name, content in blocks.items():
        match = _marker(name).search(page)
        if match is None:
            raise ValueError(f"docs/recipes.md has no markers for the generated block {name!r}")
        page = page[: match.end(1)] + content + "\n" + page[match.start(2) :]
    return page


def run_both(directory: Path) -> tuple[Run, Run]:
    """Run the recipes and the wrong versions, each in a directory below ``directory``."""
    (directory / "recipes").mkdir()
    (directory / "wrong").mkdir()
    recipes = run_examples(RECIPES, directory / "recipes", "recipes")
    wrong = run_examples(WRONG, directory / "wrong", "wrong")
    return recipes, wrong


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="Exit 1 if docs/recipes.md is not up to date"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lockorder-recipes-") as tmp:
        recipes, wrong = run_both(Path(tmp))
        page = PAGE.read_text("utf-8")
        updated = update_page(page, render(recipes, wrong))
    print(f"recipes: {recipes.seconds:.1f} s, wrong versions: {wrong.seconds:.1f} s")
    if args.check:
        if updated != page:
            print("docs/recipes.md is out of date: run python docs/recipes/regenerate.py")
            return 1
        print("docs/recipes.md is up to date")
        return 0
    if updated != page:
        PAGE.write_text(updated, encoding="utf-8")
        print("docs/recipes.md updated")
    else:
        print("docs/recipes.md was already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
