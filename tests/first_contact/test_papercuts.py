"""Small things a newcomer meets first: the pytest demo's output and the HTML
report of a pytest session (issue "First contact", item 14).

The demo runs as docs/pytest.md shows it (``cd examples/pytest_demo && pytest
...``), in a copy of it, in the environment lockorder's test extra makes (with
pytest-asyncio, whose plugin warns in every run of a project that does not set
its options), without the ``-p no:asyncio`` the suite's own conftest adds.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.first_contact import _run

DEMO = Path(__file__).resolve().parents[2] / "examples" / "pytest_demo"


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``pytest ARGS`` in a copy of examples/pytest_demo, as a user's shell runs it."""
    pytest.importorskip("pytest_asyncio")  # the test extra's: what made the warning
    here = tmp_path / "pytest_demo"
    shutil.copytree(DEMO, here, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    # none of this session's own settings (conftest.py sets PYTEST_ADDOPTS=-p no:asyncio)
    return _run.pytest(here, *args, env=_run.environment(("PYTEST", "LOCKORDER")), timeout=120)


@pytest.mark.parametrize(
    "args",
    [["-q"], ["--lockorder"], ["-n", "2", "--lockorder"]],
    ids=["plain", "lockorder", "xdist"],
)
def test_the_pytest_demo_prints_no_warning(args: list[str], tmp_path: Path) -> None:
    """Its tests are not async: pytest-asyncio's PytestDeprecationWarning about
    asyncio_default_fixture_loop_scope (printed before every run) is gone."""
    done = _demo(tmp_path, *args)
    output = done.stdout + done.stderr
    assert done.returncode == (0 if args == ["-q"] else 1), output
    assert re.search(r"warn", output, re.IGNORECASE) is None, output


def test_the_html_report_of_an_xdist_session_reads_as_text(tmp_path: Path) -> None:
    """The header said ``rerun_options ['-n', '0']``: a Python list."""
    done = _demo(tmp_path, "-n", "2", "--lockorder", "--lockorder-report=html:report.html")
    assert done.returncode == 1, done.stdout + done.stderr
    page = (tmp_path / "pytest_demo" / "report.html").read_text(encoding="utf-8")
    header = page[page.index("<header>") : page.index("</header>")]
    text = html.unescape(re.sub(r"<[^>]+>", " ", header))
    assert re.search(r"\bconfirm reruns add\s+-n 0\b", text), text
    assert re.search(r"\brun\s+pytest session \(2 xdist workers merged\)", text), text
    for repr_ in ("[", "{", "'", "rerun_options"):
        assert repr_ not in text, (repr_, text)
