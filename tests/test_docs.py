"""The documentation's commands work as written: each ```text block that starts
with ``$ python -m lockorder run ...`` in the README and docs/ is run from the
repository's root, and its output must match the block.

In a block, a line ``...`` stands for any lines; thread idents, the seconds a
dump reports and the standard library's absolute paths and line numbers (they
differ between Python versions) match any value.
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
_BLOCK = re.compile(r"```text\n\$ (python -m lockorder run [^\n]*)\n(.*?)```", re.DOTALL)


def _blocks() -> list[tuple[str, str, str]]:
    found = []
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        found.extend((page, m.group(1), m.group(2)) for m in _BLOCK.finditer(text))
    return found


def _pattern(expected: str) -> re.Pattern[str]:
    parts = []
    for line in expected.splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        regex = re.escape(line)
        regex = re.sub(r"ident\\ \d+", r"ident\\ \\d+", regex)
        regex = re.sub(r"\\\(for\\ \d+\\\.\d+\\ s\\\)", r"\\(for\\ [\\d.]+\\ s\\)", regex)
        stdlib = re.match(r'((?:\\ )*)File\\ "/[^"]*",\\ line\\ \d+,(.*)$', regex)
        if stdlib:
            regex = stdlib.group(1) + r'File\ "/[^"]*",\ line\ \d+,' + stdlib.group(2)
        parts.append(regex + r"\n")
    return re.compile("".join(parts))


BLOCKS = _blocks()


def test_the_pages_have_commands_to_check() -> None:
    pages = {page for page, _, _ in BLOCKS}
    assert {"README.md", "docs/deadlocks.md"} <= pages


@pytest.mark.parametrize(
    ("page", "command", "expected"), BLOCKS, ids=[f"{p}:{c.split()[-1]}" for p, c, _ in BLOCKS]
)
def test_a_documented_command_prints_what_the_page_shows(
    page: str, command: str, expected: str, tmp_path: Path
) -> None:
    args = shlex.split(command)
    args[0] = sys.executable
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKORDER")}
    # run where the page says (the repository's root), in a copy: a report the
    # command writes must not land in the repository
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    done = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False, env=env
    )
    output = done.stdout + done.stderr
    assert _pattern(expected).fullmatch(output), (
        f"{page}: `{command}` printed:\n{output}\n--- the page shows:\n{expected}"
    )
