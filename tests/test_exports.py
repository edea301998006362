"""The public API: __all__, typing marker, import cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lockorder


def test_all_names_exist_and_public_classes_say_lockorder() -> None:
    for name in lockorder.__all__:
        assert hasattr(lockorder, name), name
    for cls in (lockorder.Lock, lockorder.RLock, lockorder.Condition, lockorder.Semaphore):
        assert cls.__module__ == "lockorder"


def test_py_typed_is_shipped() -> None:
    assert (Path(lockorder.__file__).parent / "py.typed").exists()


def test_import_does_not_pull_networkx_or_pytest() -> None:
    code = "import sys, lockorder; print('networkx' in sys.modules, 'pytest' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["False", "False"]
