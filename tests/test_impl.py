"""The implementation of the checked Lock's steady state: C (lockorder/_speedups.c)
or Python, chosen in lockorder/_impl.py (docs/performance.md, "The C hot path")."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import lockorder
from lockorder import _impl


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "LOCKORDER_IMPL"}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**environ, **env},
    )


def _built() -> bool:
    try:
        from lockorder import _speedups  # noqa: F401
    except ImportError:
        return False
    return not sysconfig.get_config_var("Py_GIL_DISABLED")


def test_the_c_implementation_runs_where_it_is_built() -> None:
    expected = "c" if _built() and os.environ.get("LOCKORDER_IMPL") != "python" else "python"
    assert lockorder.implementation() == expected
    enter = type(lockorder.Lock.__dict__["__enter__"]).__name__
    assert enter == ("method_descriptor" if expected == "c" else "function")
    assert (_impl.why_python() == "") == (expected == "c")


def test_lockorder_impl_python_forces_the_fallback() -> None:
    done = _run(
        "import lockorder, lockorder._impl as i; print(lockorder.implementation(), "
        "type(lockorder.Lock.__enter__).__name__, i.why_python())",
        LOCKORDER_IMPL="python",
    )
    assert done.stdout.split(maxsplit=2) == ["python", "function", "LOCKORDER_IMPL=python\n"]


def test_an_invalid_lockorder_impl_is_a_clear_error() -> None:
    done = _run("import lockorder", LOCKORDER_IMPL="fast")
    assert done.returncode == 1
    assert (
        "lockorder.errors.ConfigurationError: LOCKORDER_IMPL must be 'c' or 'python' "
        "(got 'fast' from the environment)" in done.stderr
    )


@pytest.mark.skipif(not _built(), reason="the C extension is not built here")
def test_lockorder_impl_c_is_the_extension() -> None:
    done = _run("import lockorder; print(lockorder.implementation())", LOCKORDER_IMPL="c")
    assert done.stdout == "c\n", done.stderr


@pytest.mark.skipif(not _built(), reason="the C extension is not built here")
def test_the_c_chain_key_is_pythons_tuple_hash() -> None:
    from lockorder import _speedups

    rng = random.Random(1)
    pairs = [(0, 1), (1, 2), (-1, 7), (2**61 - 1, 3), (2**63 - 1, 5)]
    pairs += [(rng.getrandbits(64) - 2**63, rng.getrandbits(24)) for _ in range(2000)]
    for previous, cid in pairs:
        assert _speedups.chain_key(previous, cid) == hash((previous, cid))


def test_both_implementations_record_the_same_edges_and_findings() -> None:
    """The C steady state hands every other case to the Python methods: an
    inversion, a re-acquire and a foreign release come out the same."""
    code = """
import threading, lockorder
lockorder.configure(mode="record", self_deadlock_wait=0.05)
a = lockorder.Lock(name="a"); b = lockorder.Lock(name="b")
for _ in range(3):
    with a:
        with b: pass
def other():
    with b:
        with a: pass
t = threading.Thread(target=other); t.start(); t.join()
c = lockorder.Lock(name="c")
c.acquire()
assert not c.acquire(timeout=0.01)
t = threading.Thread(target=c.release); t.start(); t.join()
assert c.acquire(blocking=False)
c.release()
print(sorted(f.kind for f in lockorder.findings()), a.locked(), b.locked(), c.locked())
"""
    impls = ["python", "c"] if _built() else ["python"]
    outputs = {impl: _run(code, LOCKORDER_IMPL=impl) for impl in impls}
    for impl, done in outputs.items():
        assert done.returncode == 0, (impl, done.stderr)
    assert len({done.stdout for done in outputs.values()}) == 1
    expected = "['potential-deadlock', 'release-not-held'] False False False\n"
    assert outputs["python"].stdout == expected


def test_without_the_extension_the_python_code_runs_and_says_why(tmp_path: Path) -> None:
    """An install with no C compiler: the import finds no lockorder._speedups."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'lockorder._speedups':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    done = _run(
        "import lockorder, lockorder._impl as i; print(lockorder.implementation(), i.why_python())",
        PYTHONPATH=str(tmp_path),
    )
    assert done.stdout == "python the C extension was not built (no C compiler at install?)\n"
    done = _run("import lockorder", PYTHONPATH=str(tmp_path), LOCKORDER_IMPL="c")
    assert "LOCKORDER_IMPL=c, but the C implementation cannot run here: the C extension" in (
        done.stderr
    )
