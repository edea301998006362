"""The off-switch: with ``LOCKORDER=0`` (or after ``configure(enabled=False)``)
every documented constructor, keyword and function works and returns the
stdlib's own objects, ``acquire()`` keeps its order, and the tools that ask for
checking (``lockorder run``, ``pytest --lockorder``) check and say so.

Production code runs with the off-switch; the tests run with checking on. Code
that passed its tests must not crash in production: each case here runs in a
subprocess, as a program started with ``LOCKORDER=0`` would.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.first_contact import _run

ROOT = Path(__file__).resolve().parents[2]
#: seconds a child process may take (an interpreter start and lockorder's import)
RUN_TIMEOUT = 120


# -- the documentation's code, as written ---------------------------------------------

#: names a snippet takes as given (the README's "a lock you have")
_GIVEN = "import threading\nexisting_lock = threading.Lock()\n"


def _python_blocks() -> list[tuple[str, str]]:
    """(where, code) of every ```python block of README.md and docs/*.md that uses
    lockorder's API (``import lockorder``)."""
    blocks = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^```python\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
            if "import lockorder" in match.group(1):
                line = text.count("\n", 0, match.start()) + 1
                blocks.append((f"{page.name}:{line}", match.group(1)))
    return blocks


def test_the_docs_have_python_blocks_to_check() -> None:
    assert any(where.startswith("README.md") for where, _ in _python_blocks())


@pytest.mark.parametrize("lockorder_env", ["0", "1"], ids=["off", "on"])
@pytest.mark.parametrize(
    ("where", "code"), [pytest.param(where, code, id=where) for where, code in _python_blocks()]
)
def test_a_documented_python_block_runs_in_both_modes(
    where: str, code: str, lockorder_env: str
) -> None:
    proc = _run.python(
        ROOT, _GIVEN + code, env=_run.environment(LOCKORDER=lockorder_env), timeout=RUN_TIMEOUT
    )
    assert proc.returncode == 0, f"{where} with LOCKORDER={lockorder_env}:\n{proc.stderr}"


# -- every documented constructor, with every keyword -------------------------------------

_SAMPLE = {"name": "'n'", "rank": "1", "signal": "True", "value": "2", "lock": "None"}


def _constructors() -> list[str]:
    """docs/api.md's constructor signatures, as calls passing every parameter:
    ``lockorder.Lock(*, name=None, rank=None, signal=False)`` ->
    ``lockorder.Lock(name='n', rank=1, signal=True)``."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    calls = []
    for match in re.finditer(r"`(lockorder\.(?:aio\.)?[A-Z]\w*)\(([^)`]*=[^)`]*)\)`", text):
        params = [p.split("=")[0].strip() for p in match.group(2).split(",")]
        args = ", ".join(f"{p}={_SAMPLE[p]}" for p in params if p != "*")
        call = f"{match.group(1)}({args})"
        if call not in calls:
            calls.append(call)
    return calls


#: what each constructor returns with checking off: the stdlib's own type
_PLAIN = {
    "lockorder.Lock": "_thread.lock",
    "lockorder.RLock": "_thread.RLock",
    "lockorder.Condition": "threading.Condition",
    "lockorder.Semaphore": "threading.Semaphore",
    "lockorder.BoundedSemaphore": "threading.BoundedSemaphore",
    "lockorder.aio.Lock": "asyncio.locks.Lock",
    "lockorder.aio.Condition": "asyncio.locks.Condition",
    "lockorder.aio.Semaphore": "asyncio.locks.Semaphore",
    "lockorder.aio.BoundedSemaphore": "asyncio.locks.BoundedSemaphore",
}

_CONSTRUCT = """
import json, sys, lockorder, lockorder.aio
if sys.argv[1] == "configure":
    lockorder.configure(enabled=False)
out = {}
for call in json.loads(sys.argv[2]):
    try:
        obj = eval(call)
    except Exception as exc:
        out[call] = f"{type(exc).__name__}: {exc}"
        continue
    cls = eval(call.partition("(")[0])
    out[call] = {
        "type": f"{type(obj).__module__}.{type(obj).__qualname__}",
        "isinstance": isinstance(obj, cls),
        "checked": lockorder.is_checked(obj),
    }
print(json.dumps(out))
"""

_WAYS = ["env", "configure"]


@pytest.fixture(scope="module", params=_WAYS)
def constructed(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each documented constructor, called with every keyword, checking off:
    ``LOCKORDER=0`` at import, or ``configure(enabled=False)`` at run time."""
    way = request.param
    proc = _run.python(
        ROOT,
        _CONSTRUCT,
        way,
        json.dumps(_constructors()),
        env=_run.environment(LOCKORDER="0" if way == "env" else None),
        timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_api_md_documents_every_constructor() -> None:
    assert {call.partition("(")[0] for call in _constructors()} == set(_PLAIN)


@pytest.mark.parametrize("call", _constructors())
def test_a_documented_constructor_returns_the_stdlib_object_with_checking_off(
    call: str, constructed: dict[str, Any]
) -> None:
    assert constructed[call] == {
        "type": _PLAIN[call.partition("(")[0]],
        "isinstance": True,  # isinstance(lockorder.Lock(), lockorder.Lock), as when on
        "checked": False,
    }


# -- the documented functions ---------------------------------------------------------------

_FUNCTIONS = """
import asyncio, io, json, sys, threading
import lockorder, lockorder.aio

if sys.argv[1] == "configure":
    lockorder.configure(enabled=False)
out = {}
raw = threading.Lock()
out["wrap"] = lockorder.wrap(raw) is raw and lockorder.wrap(raw, name="x") is raw
try:
    lockorder.wrap(5)
except TypeError as exc:
    out["wrap(5)"] = str(exc)
out["bad keyword"] = []
for bad in ("lockorder.Lock(nme='x')", "lockorder.Lock(name=5)", "lockorder.RLock(rank='1')"):
    try:
        eval(bad)
    except TypeError as exc:
        out["bad keyword"].append(type(exc).__name__)

low, high, free = lockorder.Lock(rank=1), lockorder.RLock(rank=2), lockorder.Lock()
with lockorder.acquire(free, high, low) as taken:
    out["acquire order"] = [taken.index(x) for x in (low, high, free)]
    out["all held"] = low.locked() and free.locked()
out["released"] = not low.locked() and not free.locked()
try:
    with lockorder.acquire(high):
        with lockorder.acquire(low):
            pass
except lockorder.LockOrderViolation:
    out["violation"] = True
out["released after violation"] = not low.locked()

with low:
    with free:  # an edge, if anything were recorded
        pass
out["configure"] = lockorder.configure(mode="warn").enabled
out["settings"] = lockorder.settings().mode
out["findings"] = lockorder.findings()
graph = lockorder.graph()
out["graph"] = [type(graph).__name__, graph.number_of_nodes()]
lockorder.reset()
out["dump"] = lockorder.dump(file=False).splitlines()[0]
sink = io.StringIO()
lockorder.dump(file=sink)
out["dump to file"] = sink.getvalue().startswith("lockorder dump")
out["implementation"] = lockorder.implementation() in ("c", "python")
original = threading.Lock
lockorder.install()
out["install"] = [lockorder.installed(), threading.Lock is original]
lockorder.uninstall()

async def main():
    lock = lockorder.aio.Lock(name="a", signal=True)
    cond = lockorder.aio.Condition()
    sem = lockorder.aio.Semaphore(2, name="s")
    async with lock, cond, sem:
        pass
    return True

out["aio"] = asyncio.run(main())
lockorder.configure(enabled=True)
out["on again"] = lockorder.is_checked(lockorder.Lock(name="later"))
print(json.dumps(out))
"""

_EXPECTED = {
    "wrap": True,
    "wrap(5)": "lockorder.wrap() expects a Lock, RLock, Condition, Semaphore or "
    "BoundedSemaphore, got builtins.int object",
    "bad keyword": ["TypeError", "TypeError", "TypeError"],
    "acquire order": [0, 1, 2],  # rank=1, rank=2, then the unranked one
    "all held": True,
    "released": True,
    "violation": True,
    "released after violation": True,
    "configure": False,
    "settings": "warn",
    "findings": [],
    "graph": ["DiGraph", 0],
    "dump": "lockorder dump: checked locks held and waited for, by thread",
    "dump to file": True,
    "implementation": True,
    "install": [False, True],  # nothing patched: no cost
    "aio": True,
    "on again": True,
}


@pytest.fixture(scope="module", params=_WAYS)
def called(request: pytest.FixtureRequest) -> dict[str, Any]:
    way = request.param
    proc = _run.python(
        ROOT,
        _FUNCTIONS,
        way,
        env=_run.environment(LOCKORDER="0" if way == "env" else None),
        timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("what", list(_EXPECTED))
def test_a_documented_function_works_with_checking_off(what: str, called: dict[str, Any]) -> None:
    assert called.get(what) == _EXPECTED[what]


# -- the tools that ask for checking ------------------------------------------------------

_BOTH_ORDERS = """
import threading
import lockorder

accounts = lockorder.Lock(name="accounts")
audit = lockorder.Lock(name="audit")


def one(first, second):
    with first:
        with second:
            pass


for pair in ((accounts, audit), (audit, accounts)):
    worker = threading.Thread(target=one, args=pair)
    worker.start()
    worker.join(10)
"""

#: the same, as a test
_BOTH_ORDERS_TEST = "import lockorder\n\n\ndef test_both_orders():\n" + textwrap.indent(
    _BOTH_ORDERS.replace("import lockorder\n", ""), "    "
)


def test_lockorder_run_checks_with_lockorder_0_and_says_so(tmp_path: Path) -> None:
    """A user who exported LOCKORDER=0 and runs `lockorder run` asked for checking:
    lockorder's own names (`lockorder.Lock(name=...)`) are checked too."""
    (tmp_path / "app.py").write_text(_BOTH_ORDERS, encoding="utf-8")
    proc = _run.lockorder(
        tmp_path,
        *("run", "--json", "", "app.py"),
        env=_run.environment(LOCKORDER="0"),
        timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith(
        "lockorder run: LOCKORDER=0 in the environment is ignored: lockorder run always checks\n"
    ), proc.stderr
    assert "potential-deadlock" in proc.stderr
    assert "accounts" in proc.stderr and "audit" in proc.stderr


def test_lockorder_run_of_the_example_with_lockorder_0(tmp_path: Path) -> None:
    proc = _run.lockorder(
        tmp_path,
        *("run", "--json", "", str(ROOT / "examples/bank_transfer.py")),
        env=_run.environment(LOCKORDER="0"),
        timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "checking=80 savings=120\n"
    assert "lockorder run: LOCKORDER=0 in the environment is ignored" in proc.stderr
    assert "lockorder ERROR: potential-deadlock" in proc.stderr


def test_pytest_lockorder_checks_with_lockorder_0(tmp_path: Path) -> None:
    """The command line wins over the environment (docs/pytest.md), and the test's
    `lockorder.Lock(name=...)` is made after the plugin turned checking on."""
    (tmp_path / "test_app.py").write_text(_BOTH_ORDERS_TEST, encoding="utf-8")
    proc = _run.pytest(
        tmp_path,
        *("-q", "-p", "no:cacheprovider", "--lockorder", "--lockorder-report=", "test_app.py"),
        env=_run.environment(LOCKORDER="0"),
        timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED test_app.py::test_both_orders - lockorder ERROR: potential-deadlock" in (
        proc.stdout
    ), proc.stdout


def test_pytest_without_lockorder_flag_stays_off_with_lockorder_0(tmp_path: Path) -> None:
    """The same test, LOCKORDER=0 and no --lockorder: nothing checked, the test passes."""
    (tmp_path / "test_app.py").write_text(_BOTH_ORDERS_TEST, encoding="utf-8")
    proc = _run.pytest(
        tmp_path,
        *("-q", "-p", "no:cacheprovider", "test_app.py"),
        env=_run.environment(LOCKORDER="0"),
        timeout=RUN_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
