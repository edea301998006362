"""The pytest plugin's watchdog: lockorder.dump() printed for a test that runs
longer than ``--lockorder-dump-after`` seconds (docs/deadlocks.md), from a raw
thread of lockorder's own."""

from __future__ import annotations

from typing import Any

__all__ = ["Watchdog"]


class Watchdog:
    """Prints lockorder.dump() when a test runs longer than ``after`` seconds
    (before pytest-timeout would kill it). A raw thread: no checked lock, not in
    threading.enumerate()."""

    def __init__(self, after: float, capture: Any) -> None:
        import _thread

        from lockorder import _threads

        self.after = after
        self.capture = capture
        self.test: str | None = None
        self.started = 0.0
        self.dumped: str | None = None
        self.text = ""
        if after > 0:
            _threads.internal_threads += 1
            _thread.start_new_thread(self._run, ())

    def arm(self, test: str) -> None:
        from lockorder._deadlock import monotonic

        self.started = monotonic()
        self.test = test

    def disarm(self) -> None:
        self.test = None

    def _run(self) -> None:

        from lockorder import _deadlock, _threads

        # lockorder's own bindings, not the time module's: a test may patch those
        sleep, monotonic = _deadlock.sleep, _deadlock.monotonic

        _threads.internal_thread_started()
        while True:
            sleep(min(0.5, self.after / 4))
            test = self.test
            if test is None or test == self.dumped:
                continue
            if monotonic() - self.started >= self.after:
                self.dumped = test
                try:
                    self.text = _deadlock.dump_text()
                    self._show(f"lockorder: {test} has run for {self.after:g} s or more")
                except Exception:  # pragma: no cover - never break the run from here
                    pass

    def _show(self, headline: str) -> None:
        import sys

        # as pytest-timeout does from its timer thread: step out of pytest's
        # output capture so the dump reaches the terminal even if the test hangs
        if self.capture is not None:
            self.capture.suspend_global_capture(in_=True)
        try:
            print(f"\n{headline}\n{self.text}", file=sys.stderr, flush=True)
        finally:
            if self.capture is not None:
                self.capture.resume_global_capture()
