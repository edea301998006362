"""Where each held lock was taken, and where a thread was started (issue 13.1):
the line a user fixes is the acquire, not only the lock's creation."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

import lockorder
from lockorder import aio, report
from lockorder._merge import merge
from lockorder._sites import Frame, relpath
from lockorder._state import checker
from tests.conftest import TIMEOUT, marked_line, run_threads

HERE = os.path.abspath(__file__)


def _line(marker: str) -> int:
    return marked_line(HERE, marker)


def _at(marker: str, function: str) -> Frame:
    return Frame(HERE, _line(marker), function)


def _the_edge(src: str) -> Any:
    (finding,) = lockorder.findings()
    return next(edge for edge in finding.cycle if edge.src.name == src)


def _inverse(first: Any, second: Any) -> None:
    with second:  # the reverse order
        with first:
            pass


def test_an_edge_says_where_its_held_lock_was_taken() -> None:
    lockorder.configure(mode="record")
    outer, inner = lockorder.Lock(name="w-outer"), lockorder.Lock(name="w-inner")

    def nest() -> None:
        with outer:  # with takes outer
            unrelated = 1
            with inner:
                del unrelated

    run_threads(nest, lambda: _inverse(outer, inner))
    edge = _the_edge("w-outer")
    assert edge.held_at == (
        _at("with takes outer", "test_an_edge_says_where_its_held_lock_was_taken.<locals>.nest"),
    )
    text = lockorder.findings()[0].format()
    assert f"w-outer ({relpath(HERE)}:" in text
    assert f"acquired at {relpath(HERE)}:{_line('with takes outer')} in " in text


def _take_in_caller(lock: Any, then: Callable[[], None]) -> None:
    lock.acquire()  # acquire() takes it
    try:
        then()
    finally:
        lock.release()


def test_acquire_calls_a_condition_and_a_lock_held_by_a_caller() -> None:
    lockorder.configure(mode="record")
    held, cond_lock = lockorder.RLock(name="c-held"), lockorder.Lock(name="c-next")
    cond = lockorder.Condition(name="c-cond")

    def nest() -> None:
        with cond:  # with takes the condition
            _take_in_caller(held, lambda: cond_lock.acquire() and cond_lock.release())

    run_threads(nest, lambda: _inverse(cond, cond_lock), lambda: _inverse(held, cond_lock))
    findings = lockorder.findings()
    sites = {
        edge.src.name: edge.held_at
        for finding in findings
        for edge in finding.cycle
        if edge.dst.name == "c-next"
    }
    assert sites["c-held"][-1] == _at("acquire() takes it", "_take_in_caller")
    fn = "test_acquire_calls_a_condition_and_a_lock_held_by_a_caller.<locals>.nest"
    assert sites["c-cond"][0] == _at("with takes the condition", fn)


def test_a_wrapped_lock_is_taken_where_the_program_takes_it() -> None:
    lockorder.configure(mode="record")
    raw = threading.Lock()
    wrapped = lockorder.wrap(raw, name="wr-held")
    other = lockorder.Lock(name="wr-next")

    def nest() -> None:
        with wrapped:  # with takes the proxy
            with other:
                pass

    run_threads(nest, lambda: _inverse(wrapped, other))
    fn = "test_a_wrapped_lock_is_taken_where_the_program_takes_it.<locals>.nest"
    assert _the_edge("wr-held").held_at == (_at("with takes the proxy", fn),)


def test_acquire_calls_in_one_function_name_the_held_locks_line() -> None:
    """The acquire in progress is not the held lock's: with outer.acquire() and
    inner.acquire() in one function, outer was taken on its own line (it was
    named at inner's, on every Python)."""
    lockorder.configure(mode="record")
    outer, inner = lockorder.Lock(name="ac-outer"), lockorder.Lock(name="ac-inner")

    def nest() -> None:
        outer.acquire()  # acquire() takes outer
        inner.acquire()
        inner.release()
        outer.release()

    run_threads(nest, lambda: _inverse(outer, inner))
    fn = "test_acquire_calls_in_one_function_name_the_held_locks_line.<locals>.nest"
    assert _the_edge("ac-outer").held_at == (_at("acquire() takes outer", fn),)


def test_a_with_of_two_items_names_each_items_line() -> None:
    """``with (a,\n b):``: a was taken on its own line, not b's (from Python
    3.14 a ``with`` loads ``__enter__`` before the call that enters it), nor the
    ``with``'s (before 3.13 the line of the instruction that enters it)."""
    lockorder.configure(mode="record")
    outer, inner = lockorder.Lock(name="wi-outer"), lockorder.Lock(name="wi-inner")

    def nest() -> None:
        with (
            outer,  # the first item takes outer
            inner,
        ):
            pass

    run_threads(nest, lambda: _inverse(outer, inner))
    fn = "test_a_with_of_two_items_names_each_items_line.<locals>.nest"
    assert _the_edge("wi-outer").held_at == (_at("the first item takes outer", fn),)


def test_an_async_with_names_its_own_line() -> None:
    """A task holding an asyncio lock by ``async with`` took it on that line,
    not on the line inside its body where it takes the next one."""
    lockorder.configure(mode="record")
    outer, inner = aio.Lock(name="aw-outer"), aio.Lock(name="aw-inner")

    async def nest() -> None:
        async with outer:  # async with takes outer
            unrelated = 1
            async with inner:
                del unrelated

    async def inverse() -> None:
        async with inner:
            async with outer:
                pass

    async def main() -> None:
        await asyncio.create_task(nest())
        await asyncio.create_task(inverse())

    asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    fn = "test_an_async_with_names_its_own_line.<locals>.nest"
    assert _the_edge("aw-outer").held_at == (_at("async with takes outer", fn),)


def test_a_leak_says_where_the_lock_was_taken_and_where_the_thread_started() -> None:
    lockorder.configure(mode="record")
    lockorder.install()
    try:
        kept = threading.Lock()

        def leak() -> None:
            kept.acquire()  # the leaked acquire

        thread = threading.Thread(target=leak, name="leaker")
        thread.start()  # the thread starts
        thread.join(10)
    finally:
        lockorder.uninstall()
    (finding,) = [f for f in lockorder.findings() if f.kind == "held-at-exit"]
    fn = "test_a_leak_says_where_the_lock_was_taken_and_where_the_thread_started"
    assert finding.stack == (_at("the leaked acquire", f"{fn}.<locals>.leak"),)
    here = relpath(HERE)
    assert finding.details[0].endswith(
        f"acquired at {here}:{_line('the leaked acquire')} in {fn}.<locals>.leak"
    )
    assert finding.details[-1] == (
        f"thread 'leaker' was started at {here}:{_line('the thread starts')} in {fn}"
    )


def _start(target: Callable[[], None], name: str) -> None:
    thread = threading.Thread(target=target, name=name)
    thread.start()  # a helper starts it
    thread.join(10)


def test_a_thread_in_an_edge_leads_back_to_the_tests_line() -> None:
    lockorder.configure(mode="record")
    lockorder.install()
    try:
        a, b = threading.Lock(), threading.Lock()

        def ab() -> None:
            with a, b:
                pass

        _start(ab, "ab-thread")  # the test starts it
        _start(lambda: _inverse(a, b), "ba-thread")
    finally:
        lockorder.uninstall()
    (finding,) = lockorder.findings()
    edge = next(e for e in finding.cycle if e.thread == "ab-thread")
    fn = "test_a_thread_in_an_edge_leads_back_to_the_tests_line"
    assert edge.thread_started_at[:2] == (
        _at("a helper starts it", "_start"),
        _at("the test starts it", fn),
    )
    assert (
        f"thread 'ab-thread' was started at {relpath(HERE)}:{_line('a helper starts it')} "
        f"in _start, called from {relpath(HERE)}:{_line('the test starts it')} in {fn}"
    ) in finding.format()


def test_reports_and_merges_keep_them(tmp_path: Any) -> None:
    lockorder.configure(mode="record")
    first, second = lockorder.Lock(name="r-first"), lockorder.Lock(name="r-second")

    def nest() -> None:
        with first:  # r takes first
            with second:
                pass

    run_threads(nest, lambda: _inverse(first, second))
    path = str(tmp_path / "r.json")
    report.write_json(path, report.build(lockorder.findings(), checker.graph.to_wire(), {}, {}))
    data = report.load(path)
    assert report.findings_of(data) == lockorder.findings()
    wire = next(e for e in data["graph"]["edges"] if e["to"] == "r-second")
    site = _at("r takes first", "test_reports_and_merges_keep_them.<locals>.nest")
    assert wire["held_at"] == [list(site)]
    merged = merge([("one", {"graph": data["graph"], "findings": []})])
    edge = next(e for f in merged.findings for e in f.cycle if e.src.name == "r-first")
    assert edge.held_at == (site,)


@pytest.mark.parametrize("kind", [lockorder.Lock, lockorder.RLock])
def test_a_released_lock_keeps_no_frame(kind: Any) -> None:
    lock = kind()
    with lock:
        assert lock._lo_at is not None
    assert lock._lo_at is None
    lock.acquire()
    lock.release()
    assert lock._lo_at is None
