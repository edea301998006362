"""The public API: __all__, typing marker, import cost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lockorder


def test_all_names_exist_and_public_classes_say_lockorder() -> None:
    for name in lockorder.__all__:
        assert hasattr(lockorder, name), name
    for cls in (lockorder.Lock, lockorder.RLock, lockorder.Condition, lockorder.Semaphore):
        assert cls.__module__ == "lockorder"


@pytest.mark.parametrize("checking", ["1", "0"])
def test_aio_is_reachable_after_a_plain_import(checking: str) -> None:
    """docs/api.md shows lockorder.aio.Lock(...) after `import lockorder`: it raised
    AttributeError unless lockorder.aio had been imported by name."""
    code = (
        "import asyncio, lockorder\n"
        "lock = lockorder.aio.Lock(name='db')\n"
        "print(type(lock).__module__, isinstance(lock, asyncio.Lock))\n"
        "try:\n"
        "    lockorder.nothing\n"
        "except AttributeError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "LOCKORDER": checking}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    module = "lockorder._aio" if checking == "1" else "asyncio.locks"
    assert done.stdout.splitlines() == [
        f"{module} True",
        "module 'lockorder' has no attribute 'nothing'",
    ]


def test_py_typed_is_shipped() -> None:
    assert (Path(lockorder.__file__).parent / "py.typed").exists()


def test_import_does_not_pull_networkx_or_pytest() -> None:
    code = "import sys, lockorder; print('networkx' in sys.modules, 'pytest' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_import_and_the_plugin_leave_wrapt_until_install_is_used() -> None:
    """``import lockorder`` is made by every pytest run of a project that has it
    installed (its plugin, off unless asked for) and by every ``lockorder report``:
    wrapt (which imports asyncio) and the modules install() patches come with the
    first use of a function that needs them."""
    code = (
        "import sys, lockorder, lockorder.pytest_plugin\n"
        "print(*(name in sys.modules for name in ('wrapt', 'asyncio', 'concurrent.futures')))\n"
        "print(lockorder.install is lockorder._install.install, 'wrapt' in sys.modules)\n"
        "from lockorder import acquire, is_checked, wrap\n"
        "print(wrap is lockorder._wrap.wrap, acquire is lockorder._ordered.acquire)\n"
        "print(all(name in dir(lockorder) for name in lockorder.__all__))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.splitlines() == ["False False False", "True True", "True True", "True"]


ROOT = Path(__file__).resolve().parent.parent


def test_the_license_is_in_the_repository_and_the_metadata() -> None:
    from importlib.metadata import metadata

    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    meta = metadata("lockorder")
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]


def test_the_changelog_is_keep_a_changelog_and_honest_about_the_version() -> None:
    import re

    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    versions = re.findall(r"^## \[([^\]]+)\]", text, flags=re.MULTILINE)
    assert versions and versions[0] == "Unreleased"
    from importlib.metadata import version

    released = versions[1:]
    # a version in pyproject.toml that was released must be the newest entry
    assert not released or released[0].startswith(version("lockorder"))
    for heading in re.findall(r"^### (.+)$", text, flags=re.MULTILINE):
        assert heading in {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
