"""Each kind of output target, for every output (issue "First contact", item 3).

A report is written through a symbolic link to the file it names, straight into a
device or a FIFO (never renamed over it), to standard output for ``-``, and an
unwritable target is one line naming it and the real reason. The outputs are
``lockorder run --json/--html/--sarif``, ``lockorder report|merge|baseline -o`` and
the plugin's ``--lockorder-report``: one writer serves them all
(lockorder.report.write_text), and each is run here in a subprocess.

No test writes to a system path: the devices are twins made with ``os.mknod`` in
``tmp_path`` (a null device, 1:3, and a full one, 1:7, whose writes fail with
ENOSPC), which needs root; those tests are skipped without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import TIMEOUT
from tests.first_contact import _run

PROGRAM = 'print("the program\'s own output")\n'
TEST_FILE = "def test_nothing():\n    pass\n"

#: (name, argv for a destination, what is written there: "json" or a text marker)
Output = tuple[str, Callable[[str], list[str]], str]

OUTPUTS: list[Output] = [
    ("run --json", lambda dest: ["run", "-q", "--json", dest, "prog.py"], "json"),
    ("run --html", lambda dest: ["run", "-q", "--json", "", "--html", dest, "prog.py"], "<html"),
    ("run --sarif", lambda dest: ["run", "-q", "--json", "", "--sarif", dest, "prog.py"], "json"),
    ("report -o", lambda dest: ["report", "r.json", "--format", "json", "-o", dest], "json"),
    (
        "report --format html -o",
        lambda dest: ["report", "r.json", "--format", "html", "-o", dest],
        "<html",
    ),
    ("merge -o", lambda dest: ["merge", "r.json", "r.json", "-o", dest], "json"),
    ("baseline -o", lambda dest: ["baseline", "r.json", "-o", dest], "json"),
]
#: the plugin's report types
PLUGIN_KINDS = ("json", "html", "sarif", "dot")


@pytest.fixture(scope="module")
def made_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a program, a test file and a report of the program's run."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "prog.py").write_text(PROGRAM)
    (folder / "test_nothing.py").write_text(TEST_FILE)
    made = _run.lockorder(folder, "run", "-q", "--json", "r.json", "prog.py")
    assert made.returncode == 0, made.stderr
    return folder


@pytest.fixture
def project(made_once: Path, tmp_path: Path) -> Path:
    """The test's own copy of :func:`made_once` (the run made once per module)."""
    _run.copy_made(made_once, tmp_path)
    return tmp_path


def _device(path: Path, minor: int) -> Path:
    """A character device twin of /dev/null (minor 3) or /dev/full (7) at ``path``."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
        with open(path, "w"):  # a filesystem mounted nodev refuses to open it
            pass
    except OSError as exc:
        pytest.skip(f"cannot make a character device here: {exc}")
    return path


def _is_char_device(path: Path) -> bool:
    return stat.S_ISCHR(os.lstat(path).st_mode)


def _check_content(text: str, marker: str) -> None:
    if marker == "json":
        json.loads(text)
    else:
        assert marker in text, text[:200]


@contextlib.contextmanager
def _fifo_read(fifo: Path, what: str = "") -> Iterator[list[str]]:
    """Make the FIFO ``fifo`` and a process that reads it to its end; once the block
    (which writes into it) is done, the list given holds what the reader got. A
    reader that got nothing fails the test, its message starting with ``what``."""
    os.mkfifo(fifo)
    reader = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdout.write(open(sys.argv[1]).read())", fifo.name],
        cwd=fifo.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    received: list[str] = []
    try:
        yield received
        try:
            out, _ = reader.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{what}the FIFO's reader got nothing (was it renamed over?)")
        received.append(out)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait(TIMEOUT)


def _no_leftovers(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name]
    assert not (folder / "-").exists()


@pytest.mark.parametrize(("name", "argv", "marker"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_a_symlink_is_written_through_and_stays_a_link(
    project: Path, name: str, argv: Callable[[str], list[str]], marker: str
) -> None:
    (project / "out").mkdir()
    # a baseline -o keeps a file that is not a baseline (docs/reports.md): an
    # empty one is written over
    (project / "out" / "real").write_text("" if name.startswith("baseline") else "old")
    (project / "link").symlink_to("out/real")
    done = _run.lockorder(project, *argv("link"))
    assert done.returncode == 0, done.stderr
    assert os.path.islink(project / "link")
    assert os.readlink(project / "link") == "out/real"
    _check_content((project / "out" / "real").read_text(), marker)
    _no_leftovers(project)
    _no_leftovers(project / "out")


@pytest.mark.parametrize(("name", "argv", "marker"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_a_dangling_symlink_gets_its_target_made(
    project: Path, name: str, argv: Callable[[str], list[str]], marker: str
) -> None:
    (project / "link").symlink_to("later/report")
    done = _run.lockorder(project, *argv("link"))
    assert done.returncode == 0, done.stderr
    assert os.path.islink(project / "link")
    _check_content((project / "later" / "report").read_text(), marker)


@pytest.mark.parametrize(("name", "argv", "marker"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_a_device_is_written_into_not_replaced(
    project: Path, name: str, argv: Callable[[str], list[str]], marker: str
) -> None:
    null = _device(project / "null", 3)
    (project / "to-null").symlink_to("null")
    for dest in ("null", "to-null"):
        done = _run.lockorder(project, *argv(dest))
        assert done.returncode == 0, done.stderr
        assert _is_char_device(null), f"{name} {dest} replaced the device with a file"
    assert os.path.islink(project / "to-null")
    _no_leftovers(project)


@pytest.mark.parametrize(("name", "argv", "marker"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_a_fifo_is_written_into(
    project: Path, name: str, argv: Callable[[str], list[str]], marker: str
) -> None:
    with _fifo_read(project / "fifo", f"{name} fifo: ") as received:
        done = _run.lockorder(project, *argv("fifo"))
        assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.lstat(project / "fifo").st_mode)
    _check_content(received[0], marker)


@pytest.mark.parametrize(("name", "argv", "marker"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_an_unwritable_device_is_one_line_and_the_error_status(
    project: Path, name: str, argv: Callable[[str], list[str]], marker: str
) -> None:
    full = _device(project / "full", 7)
    done = _run.lockorder(project, *argv("full"))
    # a report not written: 4 for run as for the report commands (docs/runner.md)
    assert done.returncode == 4, done.stderr
    lines = [line for line in done.stderr.splitlines() if "full" in line]
    assert len(lines) == 1, done.stderr
    assert "cannot write" in lines[0] and "No space left on device" in lines[0], lines
    assert "Traceback" not in done.stderr
    assert _is_char_device(full)
    _no_leftovers(project)


@pytest.mark.parametrize(("name", "argv", "marker"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_dash_is_standard_output(
    project: Path, name: str, argv: Callable[[str], list[str]], marker: str
) -> None:
    done = _run.lockorder(project, *argv("-"))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    if name.startswith("run"):  # after the program's own output
        head, _, out = out.partition("the program's own output\n")
        assert head == ""
    _check_content(out, marker)
    assert "standard output" in done.stderr or name.startswith("report"), done.stderr
    _no_leftovers(project)


@pytest.mark.parametrize(("name", "argv", "marker"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_a_file_where_a_folder_should_be_says_not_a_directory(
    project: Path, name: str, argv: Callable[[str], list[str]], marker: str
) -> None:
    (project / "somefile").write_text("a file")
    done = _run.lockorder(project, *argv("somefile/out"))
    assert done.returncode == 4, done.stderr
    lines = [line for line in done.stderr.splitlines() if "somefile/out" in line]
    assert len(lines) == 1, done.stderr
    assert "Not a directory" in lines[0], lines
    assert "File exists" not in done.stderr
    assert (project / "somefile").read_text() == "a file"


def test_run_refuses_two_reports_on_standard_output(project: Path) -> None:
    done = _run.lockorder(project, "run", "--json", "-", "--html", "-", "prog.py")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "lockorder run: error: --json and --html are both '-': only one report can go to "
        "standard output"
    ]
    assert done.stdout == ""  # the program never ran


def test_a_descriptor_path_appends_after_the_programs_output(project: Path) -> None:
    """/dev/fd/1 (what /dev/stdout is) names the open standard output: written in
    place and appended, after what the program printed, not renamed over."""
    if not os.path.isdir("/dev/fd"):
        pytest.skip("no /dev/fd here")
    log = project / "log"
    log.write_text("before\n")
    with open(log, "a") as stdout:
        done = _run.lockorder(project, "run", "-q", "--json", "/dev/fd/1", "prog.py", stdout=stdout)
    assert done.returncode == 0, done.stderr
    before, program, report = log.read_text().split("\n", 2)
    assert (before, program) == ("before", "the program's own output")
    json.loads(report)


def test_the_plugin_writes_through_links_into_devices_and_fifos(project: Path) -> None:
    null = _device(project / "null", 3)
    full = _device(project / "full", 7)
    (project / "real.json").write_text("old")
    (project / "link.json").symlink_to("real.json")
    with _fifo_read(project / "fifo") as received:
        done = _run.pytest(
            project,
            *("-q", "-p", "no:cacheprovider", "--lockorder"),
            "--lockorder-report=json:link.json",
            "--lockorder-report=html:null",
            "--lockorder-report=sarif:fifo",
            "--lockorder-report=dot:full",
        )
    # the tests passed; a report not written makes the status 4 (docs/pytest.md)
    assert done.returncode == 4, done.stdout + done.stderr
    assert (
        "lockorder: cannot write the dot report to 'full': [Errno 28] No space left on device"
        in done.stdout
    )
    assert os.path.islink(project / "link.json")
    json.loads((project / "real.json").read_text())
    assert _is_char_device(null) and _is_char_device(full)
    assert stat.S_ISFIFO(os.lstat(project / "fifo").st_mode)
    json.loads(received[0])
    _no_leftovers(project)


@pytest.mark.parametrize("kind", PLUGIN_KINDS)
def test_the_plugin_refuses_dash(project: Path, kind: str) -> None:
    """pytest's standard output is its own terminal report: a report there would be
    unreadable, so ``-`` is a usage error, before any test runs."""
    done = _run.pytest(
        project, "-q", "-p", "no:cacheprovider", "--lockorder", f"--lockorder-report={kind}:-"
    )
    assert done.returncode == 4  # pytest's usage error
    assert (
        f"ERROR: a lockorder report's destination must be a file (not '-': pytest's "
        f"standard output is its own report) (got '{kind}:-' from --lockorder-report)"
    ) in done.stderr
    assert "passed" not in done.stdout
    _no_leftovers(project)


def test_the_plugin_says_not_a_directory(project: Path) -> None:
    (project / "somefile").write_text("a file")
    done = _run.pytest(
        project,
        *("-q", "-p", "no:cacheprovider", "--lockorder"),
        "--lockorder-report=json:somefile/out.json",
    )
    assert done.returncode == 4
    assert (
        "lockorder: cannot write the json report to 'somefile/out.json': [Errno 20] Not a directory"
    ) in done.stdout
