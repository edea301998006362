"""pytest in a project that never asked for lockorder, with lockorder installed.

lockorder's plugin is loaded by every pytest run in an environment where it is
installed (entry point ``pytest11``). Off, it must leave no trace: ``pytest
--help``, ``--version``, ``--co`` and a plain run give what they give with
``-p no:lockorder``, except the lines ``--help`` has for lockorder's own options
and ini keys, and a ``LOCKORDER_*`` value the run did not ask for changes
nothing either. Each run is a subprocess of the Python running these tests (so
every Python CI tests on).
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lockorder import pytest_plugin
from tests.conftest import WITHOUT_SPEEDUPS
from tests.first_contact import _run

#: a test module that fails if lockorder patched threading (it must not, when off)
UNPATCHED = """
import _thread
import threading


def test_threading_is_the_stdlibs():
    assert threading.Lock in (_thread.allocate_lock, getattr(_thread, "lock", None))
    with threading.Lock():
        pass


def test_another():
    assert sum(range(4)) == 6
"""


def _environ(**extra: str) -> dict[str, str]:
    """This environment without lockorder's variables and pytest's (the outer run's
    addopts, xdist's worker variables), a fixed terminal width, plus ``extra``."""
    return _run.environment(
        ("LOCKORDER", "PYTEST_"), **{"COLUMNS": "100", "PY_COLORS": "0", **extra}
    )


def _pytest(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return _run.pytest(project, *args, env=_environ() if env is None else env, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project that never heard of lockorder: one test module, a pytest.ini."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_plain.py").write_text(UNPATCHED)
    return tmp_path


def _files(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if not {"__pycache__", ".pytest_cache"} & set(path.relative_to(root).parts)
    }


def _same(text: str) -> str:
    """What may differ between two identical runs: the duration; and pytest's
    list of the installed plugins in the header, which names lockorder."""
    text = re.sub(r" in \d+\.\d+s", " in N s", text)
    text = re.sub(r"(?m)^(=*)( .* in N s )(=*)$", r"\2", text)  # the padding follows
    return re.sub(r"(?m)^(plugins: .*?)lockorder-[^,\s]+(, )?", r"\1", text)


def _help_texts() -> dict[str, str]:
    """Every lockorder option's and ini key's help text, as the plugin registers them."""
    texts: dict[str, str] = {}

    class Group:
        def addoption(self, *names: str, help: str, **attrs: Any) -> None:
            # what argparse shows: the help expanded as a %-format (%(default)s)
            texts[names[0]] = help % {}

    class Parser:
        def getgroup(self, name: str, description: str = "") -> Group:
            return Group()

        def addini(self, name: str, help: str, **attrs: Any) -> None:
            texts[name] = help

    pytest_plugin.pytest_addoption(Parser())  # type: ignore[arg-type]
    return texts


def _squeezed(text: str) -> str:
    return "".join(text.split())


def test_every_option_and_ini_help_of_lockorder_renders_in_pytest_help(project: Path) -> None:
    """argparse reads a help text as a %-format: a plain ``%`` in one text made every
    ``pytest --help`` fail (TypeError: %o format: an integer is required)."""
    texts = _help_texts()
    assert "--lockorder-dump-after" in texts and "lockorder_dump_after" in texts
    assert any("%" in text for text in texts.values())  # the case this guards is there
    done = _pytest(project, "--help")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rendered = _squeezed(done.stdout)
    for name, text in texts.items():
        assert f"{name} " in done.stdout or f"{name}=" in done.stdout, name
        assert _squeezed(text) in rendered, (name, text)


def _lockorders(lines: list[str]) -> bool:
    """Whether ``lines`` are whole entries of lockorder's in pytest --help: its option
    group, or its ini keys (each with its help's continuation lines)."""
    heads = [line for line in lines if line.strip() and not line.startswith(" " * 24)]
    return all(
        re.match(r"  (--no-lockorder|--lockorder|lockorder)([-_ =]|$)", line)
        or line == "lock-order and deadlock checking:"
        for line in heads
    ) and not lines[0].startswith(" " * 24)


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["--co", "-q"], [], ["-q"]],
    ids=["help", "version", "co", "run", "run-q"],
)
def test_pytest_does_what_it_does_without_lockorder(project: Path, args: list[str]) -> None:
    without = _pytest(project, "-p", "no:lockorder", *args)
    files = _files(project)
    with_ = _pytest(project, *args)
    assert with_.returncode == without.returncode == 0, (with_.stderr, without.stderr)
    assert _same(with_.stderr) == _same(without.stderr)
    assert _files(project) == files  # no report, no journal: nothing written
    if args != ["--help"]:
        assert _same(with_.stdout) == _same(without.stdout)
        return
    before, after = without.stdout.splitlines(), with_.stdout.splitlines()
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    added = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        assert tag in ("equal", "insert"), (before[i1:i2], after[j1:j2])
        if tag == "insert":
            added.append(after[j1:j2])
    assert added and all(_lockorders(lines) for lines in added), added


def _without_the_extension(tmp_path: Path) -> str:
    """A PYTHONPATH whose sitecustomize makes ``lockorder._speedups`` not found (an
    install with no C compiler)."""
    blocker = tmp_path / "no_speedups"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(WITHOUT_SPEEDUPS)
    return str(blocker)


@pytest.fixture(params=["invalid", "c-cannot-run"])
def bad_impl(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, str], str]:
    """An environment whose LOCKORDER_IMPL lockorder cannot follow, and the line that
    says so."""
    if request.param == "invalid":
        return (
            _environ(LOCKORDER_IMPL="rust"),
            "LOCKORDER_IMPL must be 'c' or 'python' (got 'rust' from the environment)",
        )
    return (
        _environ(LOCKORDER_IMPL="c", PYTHONPATH=_without_the_extension(tmp_path)),
        "LOCKORDER_IMPL=c, but the C implementation cannot run here: the C extension "
        "was not built (no C compiler at install?)",
    )


def test_lockorder_impl_changes_nothing_for_pytest_without_lockorder(
    project: Path, bad_impl: tuple[dict[str, str], str]
) -> None:
    """It was a traceback at import: every pytest run failed, --help and --version too."""
    env, _ = bad_impl
    for args in (["--version"], ["--co", "-q"], ["-q"]):
        without = _pytest(project, "-p", "no:lockorder", *args, env=env)
        with_ = _pytest(project, *args, env=env)
        assert without.returncode == 0, without.stderr
        assert (with_.returncode, _same(with_.stdout), _same(with_.stderr)) == (
            without.returncode,
            _same(without.stdout),
            _same(without.stderr),
        ), args


def test_lockorder_impl_is_one_line_for_the_tools(
    project: Path, bad_impl: tuple[dict[str, str], str]
) -> None:
    env, line = bad_impl
    done = _pytest(project, "--lockorder", "-q", env=env)
    assert (done.returncode, done.stderr.strip()) == (4, f"ERROR: {line}"), done.stdout
    done = _run.lockorder(project, "run", "--json", "", "test_plain.py", env=env, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"lockorder run: {line}\n")
    # a program that only imports lockorder runs (told when it first uses lockorder)
    done = _run.python(None, "import lockorder; print('ran')", env=env, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "ran\n", "")


# -- a finding's failure, as a user reads it -------------------------------------------

SELF_DEADLOCK = """
import threading

lock = threading.Lock()


def test_self_deadlock():
    with lock:
        with lock:
            pass
"""

TASKS_DEADLOCK = """
import asyncio


def test_tasks_deadlock():
    a = asyncio.Lock()
    b = asyncio.Lock()

    async def one(mine, theirs):
        async with a:
            mine.set()
            await theirs.wait()
            async with b:
                pass

    async def two(mine, theirs):
        async with b:
            await theirs.wait()
            mine.set()
            async with a:
                pass

    async def main():
        first, second = asyncio.Event(), asyncio.Event()
        await asyncio.gather(one(first, second), two(second, first))

    asyncio.run(main())
"""

# lockorder used by the tests themselves, no plugin: raise mode
RAISE_MODE = """
import lockorder


def test_inversion_raises():
    lockorder.configure(mode="raise", single_thread="strict")
    a = lockorder.Lock(name="a")
    b = lockorder.RLock(name="b")
    with a:
        with b:
            pass
    with b:
        with a:
            pass
"""

_LOCKORDER_SOURCE = str(Path(pytest_plugin.__file__).parent)


@pytest.mark.parametrize(
    ("source", "args", "why"),
    [
        (SELF_DEADLOCK, ["--lockorder"], "why: no other thread exists that could release it"),
        (TASKS_DEADLOCK, ["--lockorder"], "why: every task of the cycle is blocked"),
        (RAISE_MODE, [], "why: every edge was made by thread 'MainThread' alone"),
    ],
    ids=["self-deadlock", "tasks-deadlock", "raise-mode-without-plugin"],
)
def test_a_findings_failure_shows_the_users_frames_and_the_finding_once(
    tmp_path: Path, source: str, args: list[str], why: str
) -> None:
    """It showed about 40 lines of lockorder's source before the message (the
    acquire's internals), then the same finding again in a section of its own."""
    (tmp_path / "test_it.py").write_text(source)
    done = _pytest(tmp_path, "-p", "no:cacheprovider", *args)
    assert done.returncode == 1, done.stdout + done.stderr
    # the failure's own text, up to the short summary (which, where CI is set,
    # pytest prints untruncated: the finding's message once more)
    failures = done.stdout.split(" FAILURES ", 1)[1].split(" short test summary info ")[0]
    assert _LOCKORDER_SOURCE not in failures, failures
    assert failures.count(why) == 1, failures
    assert re.search(r"(?m)^E +lockorder\.errors\.\w+Error: lockorder ERROR: ", failures)
    # every frame is still there for whoever asks (a bug of lockorder's must show)
    done = _pytest(tmp_path, "-p", "no:cacheprovider", "--fulltrace", *args)
    assert _LOCKORDER_SOURCE in done.stdout.split(" FAILURES ", 1)[1]


# -- lockorder run, through the console script -------------------------------------------

PROGRAM = """
import asyncio
import threading

a = threading.Lock()
b = threading.Lock()


def forwards():
    with a:
        with b:
            pass


def backwards():
    with b:
        with a:
            pass


forwards()  # an edge made by the main thread: its stack reaches the top of the program
thread = threading.Thread(target=backwards)
thread.start()
thread.join()

x = asyncio.Lock()
y = asyncio.Lock()


async def one():
    async with x:
        async with y:
            pass


async def two():
    async with y:
        async with x:
            pass


async def main():
    await asyncio.create_task(one())
    await asyncio.create_task(two())


asyncio.run(main())
"""


def _console_script(tmp_path: Path) -> Path:
    """The ``lockorder`` console script next to this Python (where pip put it), or
    one written as pip writes it."""
    installed = Path(sys.executable).parent / "lockorder"
    if installed.is_file():
        return installed
    shim = tmp_path / "bin" / "lockorder"
    shim.parent.mkdir()
    shim.write_text(
        "import re\nimport sys\nfrom lockorder.cli import main\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        "    sys.exit(main())\n"
    )
    return shim


def test_lockorder_run_through_the_console_script_shows_only_the_programs_frames(
    tmp_path: Path,
) -> None:
    """Stacks and 'started at' lines ended in 'called from .../bin/lockorder:8 in
    <module>' under the console script (not under python -m lockorder)."""
    (tmp_path / "prog.py").write_text(PROGRAM)
    script = _console_script(tmp_path)
    outputs = {}
    for how, command in (
        ("console script", [sys.executable, str(script)]),
        ("python -m", [sys.executable, "-m", "lockorder"]),
    ):
        done = _run.command(
            [*command, "run", "--json", f"{how}.json", "--single-thread", "strict", "prog.py"],
            tmp_path,
            env=_environ(),
            timeout=120,
        )
        assert done.returncode == 3, done.stderr
        report = (tmp_path / f"{how}.json").read_text()
        for text in (done.stderr, report):
            assert str(script) not in text and _LOCKORDER_SOURCE not in text
            assert "runpy" not in text
        outputs[how] = done.stderr.replace(f"{how}.json", "REPORT")
    assert outputs["console script"] == outputs["python -m"]
    text = outputs["console script"]
    assert "thread 'Thread-1 (backwards)' was started at prog.py:23 in <module>\n" in text
    assert '      File "prog.py", line 21, in <module>\n      File "prog.py", line 11' in text
