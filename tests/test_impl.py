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
from tests.conftest import WITHOUT_SPEEDUPS


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
    for cls in (lockorder.Lock, lockorder.RLock):
        for name in ("__enter__", "__exit__", "acquire", "release"):
            method = type(cls.__dict__[name]).__name__
            assert method == ("method_descriptor" if expected == "c" else "function"), (cls, name)
    if expected == "c":
        assert set(_impl.python_methods(lockorder.RLock)) == {
            "__enter__",
            "__exit__",
            "acquire",
            "release",
        }
    else:
        assert _impl.python_methods(lockorder.RLock) == {}
    assert (_impl.why_python() == "") == (expected == "c")


def test_lockorder_impl_python_forces_the_fallback() -> None:
    done = _run(
        "import lockorder, lockorder._impl as i; print(lockorder.implementation(), "
        "type(lockorder.Lock.__enter__).__name__, i.why_python())",
        LOCKORDER_IMPL="python",
    )
    assert done.stdout.split(maxsplit=2) == ["python", "function", "LOCKORDER_IMPL=python\n"]


def test_an_invalid_lockorder_impl_is_one_line_when_lockorder_is_first_used() -> None:
    """docs/api.md, "Invalid values": the import does not fail on it (a program that
    never uses lockorder hears nothing); the first use tells it, once, in one line,
    and the default implementation runs."""
    done = _run("import lockorder; print('imported')", LOCKORDER_IMPL="rust")
    assert (done.returncode, done.stdout, done.stderr) == (0, "imported\n", "")
    done = _run(
        "import lockorder; a = lockorder.Lock(); b = lockorder.Lock(); "
        "lockorder.configure(mode='record'); print(lockorder.implementation())",
        LOCKORDER_IMPL="rust",
    )
    default = "c" if _built() else "python"
    assert (done.returncode, done.stdout) == (0, default + "\n"), done.stderr
    assert done.stderr == (
        "<environment>:0: LockOrderWarning: LOCKORDER_IMPL must be 'c' or 'python' "
        "(got 'rust' from the environment); using the "
        + {"c": "C", "python": "Python"}[default]
        + " implementation\n"
    )


def test_the_tools_reject_an_invalid_lockorder_impl() -> None:
    """Judged once, at import, for the tools to reject (lockorder._impl.check_environment)."""
    done = _run(
        "from lockorder import _impl\n"
        "try:\n"
        "    _impl.check_environment()\n"
        "except ValueError as exc:\n"
        "    print(type(exc).__name__, exc.setting, exc)\n",
        LOCKORDER_IMPL="Fast",
    )
    assert done.stdout == (
        "ConfigurationError LOCKORDER_IMPL LOCKORDER_IMPL must be 'c' or 'python' "
        "(got 'Fast' from the environment)\n"
    ), done.stderr
    done = _run("from lockorder import _impl; _impl.check_environment()", LOCKORDER_IMPL="python")
    assert (done.returncode, done.stderr) == (0, "")


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


#: run first by the "c, raw methods" way: the C code calls the raw locks' methods,
#: as it does where their layout is not the one it knows (lockorder/_speedups.c)
_RAW_METHODS = (
    "import lockorder._impl\n"
    "assert lockorder._impl._speedups.raw_access(None, None) == (False, False)\n"
)


def _run_each_way(code: str) -> dict[str, subprocess.CompletedProcess[str]]:
    """``code`` run by the Python implementation, and where the extension is built by
    the C one, taking the raw locks itself and through their methods: each must
    succeed and print the same."""
    outputs = {"python": _run(code, LOCKORDER_IMPL="python")}
    if _built():
        outputs["c"] = _run(code, LOCKORDER_IMPL="c")
        outputs["c, raw methods"] = _run(_RAW_METHODS + code, LOCKORDER_IMPL="c")
    for impl, done in outputs.items():
        assert done.returncode == 0, (impl, done.stderr)
    assert len({done.stdout for done in outputs.values()}) == 1, outputs
    return outputs


@pytest.mark.skipif(not _built(), reason="the C extension is not built here")
def test_the_c_code_takes_the_raw_locks_itself_where_it_knows_their_layout() -> None:
    """Every supported version's raw Lock and RLock pass the layout check; a raw
    lock of another size is called through its methods (a Lock given as the RLock
    and the reverse: their sizes differ on every version)."""
    done = _run(
        "import threading, lockorder, lockorder._impl as i\n"
        "print(i._speedups.raw_access())\n"
        "print(i._speedups.raw_access(threading.RLock(), threading.Lock()))\n"
        "a = lockorder.Lock(); b = lockorder.RLock()\n"
        "with a:\n"
        "    with b:\n"
        "        with b:\n"
        "            print(a.locked(), b._is_owned(), b._lo_count)\n"
        "print(a.locked(), b._is_owned(), b._lo_count)\n"
        "print(i._speedups.raw_access(threading.Lock(), threading.RLock()))\n",
        LOCKORDER_IMPL="c",
    )
    # a version after those read (lockorder/_speedups.c) may run either way
    known = "(True, True)\n" if sys.version_info < (3, 16) else done.stdout.split("\n", 1)[0] + "\n"
    expected = f"{known}(False, False)\nTrue True 2\nFalse False 0\n{known}"
    assert done.stdout == expected, done.stderr


def test_the_raw_locks_agree_with_the_c_steady_state() -> None:
    """The raw lock's own view (locked(), _is_owned(), the count _release_save()
    gives) after each step the C code takes for it, and the raw lock taken by
    another thread: the C take then changes nothing and Python's acquire waits."""
    code = """
import threading, lockorder
lockorder.configure(mode="record")
a = lockorder.Lock(); r = lockorder.RLock()
out = []
with a:
    out.append(a._lo_raw.locked())
    with r:
        with r:
            with r:
                out.append((r._lo_raw._is_owned(), r._lo_count))
            state = r._lo_raw._release_save()
            out.append((state[0], r._lo_raw._is_owned()))
            r._lo_raw._acquire_restore(state)
        out.append((r._lo_raw._is_owned(), r._lo_count))
    out.append((r._lo_raw._is_owned(), r._lo_count))
out.append((a._lo_raw.locked(), r._lo_raw._is_owned()))
taken, go = threading.Event(), threading.Event()
def holder():
    with a, r:
        taken.set()
        go.wait(10)
t = threading.Thread(target=holder); t.start()
taken.wait(10)
def release_soon():
    go.set()
threading.Timer(0.05, release_soon).start()
with a:  # waits in Python until the holder lets go
    with r:
        out.append((a._lo_raw.locked(), r._lo_raw._is_owned(), r._lo_count))
t.join(10)
out.append((a._lo_raw.locked(), r._lo_raw._is_owned()))
print(out)
"""
    outputs = _run_each_way(code)
    assert outputs["python"].stdout == (
        "[True, (True, 3), (2, False), (True, 1), (False, 0), (False, False), "
        "(True, True, 1), (False, False)]\n"
    )


def test_each_thread_gets_its_own_state_and_none_outlives_its_thread() -> None:
    """The C code keeps the last thread's state at hand (lockorder/_speedups.c,
    thread_state): threads that take turns each find their own, and a thread's
    state is freed when the thread ends, though it was the last the C code read."""
    code = """
import gc, threading, weakref, lockorder
from lockorder import _held
lockorder.configure(mode="record")
turns = [threading.Event() for _ in range(5)]
out, refs = [], []
def worker(me, first, then):
    a = lockorder.Lock(name="a")  # the thread's own: the last user of nothing else
    b = lockorder.Lock(name="b")
    for step in (first, then):
        turns[step].wait(10)
        with a:
            with b:
                out.append((me, step, [lk is a or lk is b for lk in _held._tls.ts.held]))
        turns[step + 1].set()
    refs.append(weakref.ref(_held._tls.ts))
threads = [threading.Thread(target=worker, args=(me, me - 1, me + 1)) for me in (1, 2)]
for thread in threads:
    thread.start()
turns[0].set()
for thread in threads:
    thread.join(10)
del threads, thread
gc.collect()
print(out)
print([ref() for ref in refs])  # the threads' states are gone
"""
    outputs = _run_each_way(code)
    assert outputs["python"].stdout == (
        "[(1, 0, [True, True]), (2, 1, [True, True]), (1, 2, [True, True]), "
        "(2, 3, [True, True])]\n[None, None]\n"
    )


def test_nested_chain_keys_are_pythons_with_many_classes() -> None:
    """The C code keeps the chain keys it made (a small table, by the identity of
    the previous key and the class id): with more classes than the table has
    entries, every key pushed is still hash((previous key, class id))."""
    code = """
import random, lockorder
from lockorder import _held
lockorder.configure(mode="record")
locks = [lockorder.Lock(name=f"l{i}") for i in range(150)]
rng = random.Random(3)
wrong = 0
for _ in range(3):
    for _ in range(400):
        a, b, c = sorted(rng.sample(range(150), 3))
        with locks[a], locks[b], locks[c]:
            chains = _held._tls.ts.chains
            cids = [locks[i]._lo_cid for i in (a, b, c)]
            expected = [cids[0], hash((cids[0], cids[1]))]
            expected.append(hash((expected[1], cids[2])))
            wrong += chains != expected
print(wrong, len(_held._tls.ts.chains))
"""
    outputs = _run_each_way(code)
    assert outputs["python"].stdout == "0 0\n"


def test_a_chain_known_before_reset_is_checked_again_after_it() -> None:
    """The C code remembers, per lock, the chain it last found known for a
    thread. reset() forgets every edge, so the next nested acquire must be
    judged again: the inversion made after reset() is found, by both
    implementations, when the other thread closes it."""
    code = """
import threading, lockorder
lockorder.configure(mode="record")
a = lockorder.Lock(name="a"); b = lockorder.Lock(name="b")
for _ in range(3):
    with a:
        with b: pass
lockorder.reset()
with a:
    with b: pass
def other():
    with b:
        with a: pass
t = threading.Thread(target=other); t.start(); t.join(10)
print(sorted(f.kind for f in lockorder.findings()), len(lockorder.graph().edges))
"""
    outputs = _run_each_way(code)
    assert outputs["python"].stdout == "['potential-deadlock'] 2\n"


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
    outputs = _run_each_way(code)
    expected = "['potential-deadlock', 'release-not-held'] False False False\n"
    assert outputs["python"].stdout == expected


def test_both_implementations_behave_alike_for_rlocks() -> None:
    """RLock's C steady state (a first take, a re-entry, a count down, the last
    release) and everything it hands to Python: a release by a thread that does
    not hold it, an out-of-order release, a try, a timeout, a Condition's wait,
    an inversion and an exception raised in the body."""
    code = """
import threading, lockorder
lockorder.configure(mode="record")
a = lockorder.RLock(name="a"); b = lockorder.RLock(name="b")
out = []
for _ in range(3):
    with a:
        with a:
            with b:
                out.append((a._is_owned(), b._is_owned(), a._lo_count))
        out.append((a._is_owned(), a._lo_count))
out.append((a._is_owned(), a._lo_count, a._lo_owner, a._lo_at))
def other():
    with b:
        with a: pass
    try:
        a.release()
    except RuntimeError as exc:
        out.append(str(exc))
t = threading.Thread(target=other); t.start(); t.join()
a.acquire(); b.acquire(); a.release(); b.release()  # out of order
out.append((a._is_owned(), b._is_owned()))
assert a.acquire(blocking=False) and a.acquire(timeout=0.5) and a.acquire()
out.append(a._lo_count)
a.release(); a.release(); a.release()
try:
    with a:
        with a:
            raise KeyError("body")
except KeyError as exc:
    out.append((repr(exc), a._is_owned(), a._lo_count))
cond = threading.Condition(a)
with cond:
    with a:
        out.append(cond.wait(0.01))
    out.append(a._lo_count)
out.append((a._is_owned(), b._is_owned(), repr(a).split(" owner")[0]))
def outer():  # where the lock was taken stays the first acquire, not a re-entry
    with a:
        inner()
        out.append(a._lo_at.f_code.co_name)
    a.acquire()
    inner()
    out.append(a._lo_at.f_code.co_name)
    a.release()
def inner():
    a.acquire()
    a.release()
outer()
print(out)
print(sorted(f.kind for f in lockorder.findings()))
"""
    outputs = _run_each_way(code)
    assert outputs["python"].stdout.splitlines() == [
        "[(True, True, 2), (True, 1), (True, True, 2), (True, 1), (True, True, 2), (True, 1), "
        "(False, 0, None, None), 'cannot release un-acquired lock', (False, False), 3, "
        "(\"KeyError('body')\", False, 0), False, 1, "
        "(False, False, '<unlocked lockorder.RLock object'), 'outer', 'outer']",
        "['potential-deadlock']",
    ]


def test_without_the_extension_the_python_code_runs_and_says_why(tmp_path: Path) -> None:
    """An install with no C compiler: the import finds no lockorder._speedups."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(WITHOUT_SPEEDUPS)
    done = _run(
        "import lockorder, lockorder._impl as i; print(lockorder.implementation(), i.why_python())",
        PYTHONPATH=str(tmp_path),
    )
    assert done.stdout == "python the C extension was not built (no C compiler at install?)\n"
    # LOCKORDER_IMPL=c: the tools reject it; a program runs the Python code and is
    # told once, when it first uses lockorder (docs/api.md)
    done = _run(
        "import lockorder, lockorder._impl as i\n"
        "print(lockorder.implementation())\n"
        "lockorder.Lock(); lockorder.Lock()\n"
        "try:\n"
        "    i.check_environment()\n"
        "except lockorder.ConfigurationError as exc:\n"
        "    print(exc)\n",
        PYTHONPATH=str(tmp_path),
        LOCKORDER_IMPL="c",
    )
    why = "the C extension was not built (no C compiler at install?)"
    assert done.stdout == (
        f"python\nLOCKORDER_IMPL=c, but the C implementation cannot run here: {why}\n"
    ), done.stderr
    assert done.stderr == (
        "<environment>:0: LockOrderWarning: LOCKORDER_IMPL=c, but the C implementation "
        f"cannot run here: {why}; using the Python implementation\n"
    )
