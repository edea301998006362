"""Reports from a running process (docs/production.md, "Reports from a running
process"): with the ``report`` setting (``LOCKORDER_REPORT``,
``configure(report=...)``) the process keeps its JSON report up to date:

- written when something new is found, at most every :data:`INTERVAL`
  seconds, by a short-lived raw thread (never by the thread that found it: a
  request thread does no file I/O of lockorder's), atomically (a temporary file
  renamed over the report), and only when its content changed;
- written at exit (``atexit``) and on SIGTERM, when the program left SIGTERM's
  default action (lockorder then writes, and lets the default action end the
  process, with its usual status);
- ``{pid}`` in the path is the writing process's id, so workers forked from a
  configured parent write their own files; where the path has no ``{pid}``, a
  forked child writes ``NAME.PID.EXT`` beside it instead of its parent's file.

With the ``dump_signal`` setting (``LOCKORDER_DUMP_SIGNAL=USR1``), that signal
prints :func:`lockorder.dump` to stderr and writes the report, for a service
that looks wedged (like ``faulthandler.register``).

A report that cannot be written is one line on stderr, once per error; the
program goes on.
"""

from __future__ import annotations

import _thread
import atexit
import json
import os
import signal
import sys
import time
from typing import Any

from lockorder import _threads, _tracker, _unpatched

__all__ = ["INTERVAL", "apply", "changed", "path", "write_now"]

#: the least time between two writes caused by new findings, in seconds
INTERVAL = 2.0

_mu = _unpatched.allocate_lock()
#: guarded by _mu: the text last written (without its timestamp), when, and
#: whether a writer thread is waiting to write
_last_text: str | None = None
_last_write = 0.0
_writer_pending = False
_told: set[str] = set()
#: the pid whose process set up the hooks (a forked child writes NAME.PID.EXT
#: when the path has no {pid})
_parent_pid = os.getpid()
_hooked = False
_sigterm_previous: Any = None
_dump_signal: str = ""
_dump_previous: Any = None


def path() -> str:
    """The file this process writes its report to ("" for none)."""
    template = _tracker.settings.report
    if not template:
        return ""
    if "{pid}" in template:
        return template.replace("{pid}", str(os.getpid()))
    if os.getpid() != _parent_pid:
        root, ext = os.path.splitext(template)
        return f"{root}.{os.getpid()}{ext}"
    return template


def apply() -> None:
    """Follow the settings: set up the exit, SIGTERM and fork hooks once a report
    is asked for, and the dump signal when it changes."""
    global _hooked
    settings = _tracker.settings
    if settings.report and not _hooked:
        _hooked = True
        atexit.register(_at_exit)
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _hook_sigterm()
    if settings.dump_signal != _dump_signal:
        _set_dump_signal(settings.dump_signal)


def changed() -> None:
    """Something new was found: have the report written, now if the last write
    was long enough ago, else once it is (never in the calling thread)."""
    global _writer_pending
    if not _tracker.settings.report:
        return
    with _mu:
        if _writer_pending:
            return
        _writer_pending = True
    _threads.internal_threads += 1
    try:
        _thread.start_new_thread(_writer, ())
    except RuntimeError:  # no thread can be started (interpreter shutdown)
        _threads.internal_threads -= 1
        with _mu:
            _writer_pending = False


def _writer() -> None:
    global _writer_pending
    _threads.internal_thread_started()
    try:
        with _mu:
            wait = _last_write + INTERVAL - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        with _mu:
            _writer_pending = False
        write_now()
    finally:
        _threads.internal_idents.discard(_thread.get_ident())
        _threads.internal_threads -= 1


def write_now() -> bool:
    """Write the report now if its content changed since the last write; return
    whether it was written. Never raises: an error is one line on stderr."""
    global _last_text, _last_write
    target = path()
    if not target:
        return False
    try:
        data = _snapshot()
        # the same findings and graph: the same report, whatever the time
        text = json.dumps({k: v for k, v in data.items() if k != "created"}, sort_keys=True)
        with _mu:
            if text == _last_text:
                return False
        from lockorder.report import write_json

        write_json(target, data)
        with _mu:
            _last_text = text
            _last_write = time.monotonic()
        return True
    except Exception as exc:  # a report must never break the program
        message = f"lockorder: cannot write the live report {target!r}: {exc}"
        if message not in _told:
            _told.add(message)
            try:
                sys.stderr.write(message + "\n")
            except Exception:
                pass
        return False


def _snapshot() -> dict[str, Any]:
    """The report of this process as it stands."""
    from lockorder import _impl, report

    findings = _tracker.findings()
    with _tracker._mu:
        wire = _tracker.graph.to_wire()
        suppressed = list(_tracker.suppressed)
    settings = _tracker.settings
    return report.build(
        findings,
        wire,
        {
            "mode": settings.mode,
            "single_thread": settings.single_thread,
            "implementation": _impl.implementation(),
        },
        {"command": list(sys.argv), "pid": os.getpid(), "live": True},
        suppressed=suppressed,
    )


def _at_exit() -> None:
    _tracker_flush()
    write_now()


def _tracker_flush() -> None:
    from lockorder import _emit

    try:
        _emit.log_new()
    except Exception:
        pass


def _after_fork_in_child() -> None:
    """A forked child: its own file, written from scratch (no writer thread
    came with it; its lock may have been held in the parent)."""
    global _mu, _last_text, _last_write, _writer_pending
    _mu = _unpatched.allocate_lock()
    _last_text = None
    _last_write = 0.0
    _writer_pending = False


def _hook_sigterm() -> None:
    """SIGTERM writes the report, where the program left SIGTERM's default
    action and this is the main thread (a program's own handler exits its own
    way: atexit writes then)."""
    global _sigterm_previous
    if not hasattr(signal, "SIGTERM"):
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        _sigterm_previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: no signal handler can be set
        return


def _on_sigterm(signum: int, frame: Any) -> None:
    write_now()
    # the default action, as if lockorder had not been there: the process ends
    # by the signal, with the status a supervisor expects
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _set_dump_signal(name: str) -> None:
    global _dump_signal, _dump_previous
    if _dump_signal:
        try:
            signal.signal(getattr(signal, _dump_signal), _dump_previous or signal.SIG_DFL)
        except ValueError:
            return
    _dump_signal = ""
    if not name:
        return
    try:
        _dump_previous = signal.signal(getattr(signal, name), _on_dump_signal)
    except ValueError:  # not the main thread
        sys.stderr.write(
            f"lockorder: dump_signal {name} can only be set from the main thread; not set\n"
        )
        return
    _dump_signal = name


def _on_dump_signal(signum: int, frame: Any) -> None:
    from lockorder._deadlock import dump

    dump()
    target = path()
    if target:
        done = "written to" if write_now() else "up to date in"
        sys.stderr.write(f"lockorder: report {done} {target}\n")
