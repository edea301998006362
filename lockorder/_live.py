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

from lockorder import _threads, _unpatched
from lockorder._state import checker

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
#: whether the write now is the process's last (at exit, on SIGTERM)
_final = False


#: the report setting as applied, made absolute then (a later chdir does not
#: move the report)
_template = ""
#: checker.changes when a write was last asked for
_asked_at = -1


def path() -> str:
    """The file this process writes its report to ("" for none)."""
    template = _template
    if not template or not checker.settings.enabled:
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
    global _hooked, _template
    settings = checker.settings
    if not settings.enabled:  # LOCKORDER=0: no report, no signal of lockorder's
        _template = ""
        if _dump_signal:
            _set_dump_signal("")
        return
    _template = os.path.abspath(settings.report) if settings.report else ""
    if settings.report and not _hooked:
        _hooked = True
        atexit.register(_at_exit)
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _hook_sigterm()
    if settings.dump_signal != _dump_signal:
        _set_dump_signal(settings.dump_signal)


def changed() -> None:
    """Something new was found: have the report written, now if the last write
    was long enough ago, else once it is (never in the calling thread). A writer
    already at work writes again if anything changed while it wrote."""
    global _writer_pending
    if not _template:
        return
    with _mu:
        if _writer_pending or checker.changes == _asked_at:
            return  # (a writer will see it, or nothing changed since the last write)
        _writer_pending = True
    _threads.internal_threads += 1
    try:
        _thread.start_new_thread(_writer, ())
    except RuntimeError:  # no thread can be started (interpreter shutdown)
        _threads.internal_threads -= 1
        with _mu:
            _writer_pending = False


def _writer() -> None:
    global _writer_pending, _asked_at
    _threads.internal_thread_started()
    try:
        while True:
            with _mu:
                wait = _last_write + INTERVAL - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            seen = checker.changes
            write_now()
            with _mu:
                if checker.changes == seen:  # nothing new while it wrote: done
                    _asked_at = seen
                    _writer_pending = False
                    return
    except BaseException:
        with _mu:
            _writer_pending = False
        raise
    finally:
        _threads.internal_idents.discard(_thread.get_ident())
        _threads.internal_threads -= 1


#: held for a whole write (snapshot, compare, file): two writers (the writer
#: thread and the exit, or SIGTERM) write one after the other, so an older
#: snapshot never replaces a newer one
_write_mu = _unpatched.allocate_lock()


def write_now() -> bool:
    """Write the report now if its content changed since the last write; return
    whether it was written. Never raises: an error is one line on stderr."""
    target = path()
    if not target:
        return False
    # (bounded: a signal handler run while this thread writes cannot wait on itself)
    if not _write_mu.acquire(timeout=5):
        return False
    try:
        return _write(target)
    finally:
        _write_mu.release()


def _write(target: str) -> bool:
    global _last_text, _last_write
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
    from lockorder import report

    findings, wire, suppressed = checker.snapshot()
    settings = checker.settings
    return report.build(
        findings,
        wire,
        report.settings_of(settings.mode, settings.single_thread),
        {
            "command": list(getattr(sys, "orig_argv", sys.argv)),
            "pid": os.getpid(),
            "live": True,
            "final": _final,
        },
        suppressed=suppressed,
    )


def _at_exit() -> None:
    global _final
    _log_pending()
    _final = True
    write_now()


def _log_pending() -> None:
    # the findings not logged yet (lockorder._emit's own atexit does it too, but
    # a multiprocessing worker, which ends with os._exit(), runs only this)
    from lockorder import _emit

    try:
        _emit.log_new()
    except Exception:
        pass


def _after_fork_in_child() -> None:
    """A forked child: its own file, written from scratch (no writer thread
    came with it; its lock may have been held in the parent)."""
    global _mu, _write_mu, _last_text, _last_write, _writer_pending, _asked_at
    _mu = _unpatched.allocate_lock()
    _write_mu = _unpatched.allocate_lock()
    _last_text = None
    _last_write = 0.0
    _writer_pending = False
    _asked_at = -1
    # a multiprocessing worker ends with os._exit(), which runs no atexit
    # handler: its own exit hook writes the report (ProcessPoolExecutor's too)
    # (multiprocessing clears its finalizers in the child before it runs its
    # after-fork functions: the finalizer is registered by one of those)
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        try:
            util.register_after_fork(_AFTER_FORK, _exit_hook_of_a_worker)
        except Exception:  # pragma: no cover - a multiprocessing without it
            pass


class _Marker:
    """What multiprocessing's after-fork registry keys our function by."""


_AFTER_FORK = _Marker()


def _exit_hook_of_a_worker(_: Any) -> None:
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, _at_exit, exitpriority=-100)


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
    global _final
    _final = True
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
    number = getattr(signal, name)
    why = ""
    try:
        if signal.getsignal(number) not in (signal.SIG_DFL, None):
            why = "the program handles it already"
        else:
            _dump_previous = signal.signal(number, _on_dump_signal)
    except ValueError:  # not the main thread
        why = "it can only be set from the main thread"
    if why:
        sys.stderr.write(f"lockorder: dump_signal {name} not set: {why}\n")
        checker.configure(dump_signal="")
        return
    _dump_signal = name


def _on_dump_signal(signum: int, frame: Any) -> None:
    from lockorder._deadlock import dump

    dump()
    target = path()
    if target:
        done = "written to" if write_now() else "up to date in"
        sys.stderr.write(f"lockorder: report {done} {target}\n")
