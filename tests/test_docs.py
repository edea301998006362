"""The documentation's commands work as written: each ```text block of the README
and docs/ that starts with ``$ python -m lockorder run ...``, ``$ pytest ...`` or
``$ cd DIR && pytest ...`` is run, and its output must match the block.

Commands run from the repository's root (a ``cd`` carries over to the page's next
blocks), in a copy of the repository's layout (its ``pyproject.toml`` and
``examples/``): a report a command writes must not land in the repository, and
pytest must find the configuration files it would find in a clone. ``pytest`` is
the console script, as a user types it (``python -m pytest`` would put the
working directory on ``sys.path`` and hide an import problem).

In a block, a line ``...`` stands for any lines; thread idents, seconds, and the
standard library's absolute paths and line numbers (they differ between Python
versions) match any value.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(
    r"```text\n\$ ((?:cd \S+ && )?(?:python -m lockorder run|pytest)[^\n]*)\n(.*?)```", re.DOTALL
)


def _blocks() -> list[tuple[str, str, str, str]]:
    """(page, directory, command, expected output) of every checked block."""
    found = []
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        directory = "."
        for match in _BLOCK.finditer(text):
            command = match.group(1)
            if command.startswith("cd "):
                directory, _, command = command[3:].partition(" && ")
            found.append((page, directory, command, match.group(2)))
    return found


def _pattern(expected: str) -> re.Pattern[str]:
    parts = []
    for line in expected.splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        regex = re.escape(line)
        regex = re.sub(r"ident\\ \d+", r"ident\\ \\d+", regex)
        regex = re.sub(r"for\\ \d+\\\.\d+\\ s", r"for\\ [\\d.]+\\ s", regex)
        # a confirm verdict's time, and a pause's
        regex = re.sub(r"(reruns?,\\ |paused\\ )\d+\\\.\d+\\ s", r"\1[\\d.]+\\ s", regex)
        # the pages show the C hot path; a machine without a compiler runs Python's
        regex = regex.replace(r"implementation=c", r"implementation=(?:c|python)")
        stdlib = re.match(r'((?:\\ )*)File\\ "/[^"]*",\\ line\\ \d+,(.*)$', regex)
        if stdlib:
            regex = stdlib.group(1) + r'File\ "/[^"]*",\ line\ \d+,' + stdlib.group(2)
        summary = re.fullmatch(r"=+ (.*) in [\d.]+s =+", line)
        if summary:  # pytest's last line: its padding follows the time's width
            regex = "=+ " + re.escape(summary.group(1)) + r" in [\d.]+s =+"
        else:
            regex = re.sub(r"in\\ \d+\\\.\d+s$", r"in\\ [\\d.]+s", regex)
        parts.append(regex + r"\n")
    return re.compile("".join(parts))


BLOCKS = _blocks()


def test_the_pages_have_commands_to_check() -> None:
    pages = {page for page, _, _, _ in BLOCKS}
    assert {"README.md", "docs/deadlocks.md", "docs/pytest.md"} <= pages


@pytest.mark.parametrize(
    ("page", "directory", "command", "expected"),
    BLOCKS,
    ids=[f"{p}:{c.split()[-1]}" for p, _, c, _ in BLOCKS],
)
def test_a_documented_command_prints_what_the_page_shows(
    page: str, directory: str, command: str, expected: str, tmp_path: Path
) -> None:
    args = shlex.split(command)
    if args[0] == "python":
        args[0] = sys.executable
    else:
        args[0] = str(Path(sys.executable).parent / args[0])
    # as on a user's terminal: pytest does not shorten its summary lines on CI
    # (CI, BUILD_NUMBER set), which the page shows shortened
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LOCKORDER", "PYTEST")) and k not in ("CI", "BUILD_NUMBER")
    }
    env["COLUMNS"] = "80"
    env["PYTEST_ADDOPTS"] = "-p no:asyncio"  # the test extra's pytest-asyncio: conftest.py
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=_caches)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    done = subprocess.run(
        [*args, *(["-p", "no:cacheprovider"] if args[0].endswith("pytest") else [])],
        cwd=tmp_path / directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    output = done.stdout + done.stderr
    assert _pattern(expected).fullmatch(output), (
        f"{page}: `{command}` in {directory} printed:\n{output}\n--- the page shows:\n{expected}"
    )


def _caches(directory: str, names: list[str]) -> list[str]:
    return [name for name in names if name in ("__pycache__", ".pytest_cache")]
