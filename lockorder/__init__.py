"""lockorder: lock-order (lockdep-style) deadlock detection for Python threads.

Checked drop-ins for threading's primitives record which locks each thread
holds while it acquires another; a cycle in that lock-order graph is a
potential deadlock, found even when the run never hangs.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lockorder import _config, _deadlock
from lockorder._deadlock import dump as dump
from lockorder._findings import KINDS as KINDS
from lockorder._findings import EdgeReport as EdgeReport
from lockorder._findings import Finding as Finding
from lockorder._findings import LockRef as LockRef
from lockorder._impl import implementation as implementation
from lockorder._primitives import BoundedSemaphore as BoundedSemaphore
from lockorder._primitives import Condition as Condition
from lockorder._primitives import Lock as Lock
from lockorder._primitives import RLock as RLock
from lockorder._primitives import Semaphore as Semaphore
from lockorder._state import checker
from lockorder._version import __version__ as __version__
from lockorder.errors import ConfigurationError as ConfigurationError
from lockorder.errors import DeadlockError as DeadlockError
from lockorder.errors import LockOrderError as LockOrderError
from lockorder.errors import LockOrderViolation as LockOrderViolation
from lockorder.errors import LockOrderWarning as LockOrderWarning
from lockorder.errors import PotentialDeadlockError as PotentialDeadlockError
from lockorder.errors import SelfDeadlockError as SelfDeadlockError

if TYPE_CHECKING:
    from lockorder._install import install as install
    from lockorder._install import installed as installed
    from lockorder._install import uninstall as uninstall
    from lockorder._ordered import acquire as acquire
    from lockorder._wrap import is_checked as is_checked
    from lockorder._wrap import wrap as wrap


__all__ = [
    "KINDS",
    "BoundedSemaphore",
    "Condition",
    "ConfigurationError",
    "DeadlockError",
    "EdgeReport",
    "Finding",
    "Lock",
    "LockOrderError",
    "LockOrderViolation",
    "LockOrderWarning",
    "LockRef",
    "PotentialDeadlockError",
    "RLock",
    "SelfDeadlockError",
    "Semaphore",
    "Settings",
    "acquire",
    "configure",
    "dump",
    "findings",
    "graph",
    "implementation",
    "install",
    "installed",
    "is_checked",
    "reset",
    "settings",
    "uninstall",
    "wrap",
]

Settings = _config.Settings

if checker.settings.enabled and (checker.settings.report or checker.settings.dump_signal):
    # LOCKORDER_REPORT / LOCKORDER_DUMP_SIGNAL: a process configured from its
    # environment keeps its report from the start (docs/production.md)
    from lockorder import _live

    _live.apply()


def configure(
    *,
    mode: str | None = None,
    single_thread: str | None = None,
    enabled: bool | None = None,
    self_deadlock_wait: float | None = None,
    break_deadlocks: bool | None = None,
    deadlock_check: float | None = None,
    long_wait: float | None = None,
    long_hold: float | None = None,
    report: str | None = None,
    dump_signal: str | None = None,
) -> Settings:
    """Change the settings; arguments left ``None`` keep their value.

    Args:
        mode: ``"raise"`` (a full finding raises from the acquire that makes it,
            before it blocks), ``"warn"`` (one :class:`LockOrderWarning` per
            distinct finding, also logged to the ``lockorder`` logger) or
            ``"record"`` (stored only, see :func:`findings`).
        single_thread: cycles seen in one thread only (one thread made every
            edge, or no lock of a class of it was taken by two threads): ``"report"``
            (a warning-level finding), ``"strict"`` (a full finding) or
            ``"ignore"``.
        enabled: ``False`` makes the constructors return plain ``threading``
            objects from now on (the environment's ``LOCKORDER=0``).
        self_deadlock_wait: seconds a re-acquire of a held ``Lock`` waits for
            another thread's release before it is a self-deadlock.
        break_deadlocks: whether a certain deadlock (a self-deadlock, a
            wait-for cycle of blocked threads) raises in the blocked acquire;
            by default it does in ``raise`` and ``warn`` modes.
        deadlock_check: seconds a blocked acquire waits before it checks for a
            wait-for cycle, and between checks (``0``: no check).
        long_wait: a lock waited on longer than this many seconds is a
            ``long-wait`` warning (``0``: off, the default).
        long_hold: a lock held longer than this many seconds is a
            ``long-hold`` warning (``0``: off, the default).
        report: a JSON report this process keeps up to date while it runs,
            and writes at exit and on SIGTERM (``{pid}`` expands to the
            process id; ``""``: none). docs/production.md.
        dump_signal: a signal name (``"USR1"``) that prints :func:`dump` to
            stderr and writes the report (``""``: none).

    Returns:
        The new settings.

    Raises:
        ConfigurationError: a value is invalid (the message names it).
    """
    _config.warn_pending()
    settings = checker.configure(
        mode=mode,
        single_thread=single_thread,
        enabled=enabled,
        self_deadlock_wait=self_deadlock_wait,
        break_deadlocks=break_deadlocks,
        deadlock_check=deadlock_check,
        long_wait=long_wait,
        long_hold=long_hold,
        report=report,
        dump_signal=dump_signal,
    )
    _deadlock.ensure_monitor()
    if (
        settings.report
        or settings.dump_signal
        or report is not None
        or dump_signal is not None
        or enabled is not None
    ):
        from lockorder import _live

        _live.apply()
    return settings


def settings() -> Settings:
    """The settings in effect."""
    _config.warn_pending()
    return checker.settings


def findings() -> list[Finding]:
    """Every finding recorded so far, oldest first. (Findings not logged yet,
    those made as a thread ended, are logged now: docs/production.md.)"""
    from lockorder import _emit

    _emit.log_new()
    return checker.findings()


def reset() -> None:
    """Forget every recorded edge and finding (lock classes and held locks stay)."""
    checker.reset()


#: the functions that need wrapt (which imports asyncio), and install()'s patched
#: modules (queue, concurrent.futures), imported on first use: ``import lockorder``
#: is made by every pytest run of a project that has lockorder installed (its
#: plugin, off unless asked for) and by every ``lockorder report``
_ON_FIRST_USE = {
    "install": "_install",
    "installed": "_install",
    "uninstall": "_install",
    "acquire": "_ordered",
    "is_checked": "_wrap",
    "wrap": "_wrap",
}


def __getattr__(name: str) -> Any:
    """``lockorder.aio`` after a plain ``import lockorder`` (as the docs show it),
    and the functions of :data:`_ON_FIRST_USE`, imported on first use; every other
    unknown name is the usual AttributeError."""
    if name == "aio":
        import lockorder.aio

        return lockorder.aio
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'lockorder' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"lockorder.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_ON_FIRST_USE})


def graph() -> Any:
    """The lock-order graph as a ``networkx.DiGraph``: nodes are lock class keys
    with ``site``, ``name``, ``kind`` attributes; edges carry their evidence
    (``thread``, ``threads``, ``stack``, ``held``, ``test``, ``tests``). A
    snapshot: later edges are not added to it."""
    from lockorder._view import to_networkx

    with checker.mu:
        wire = checker.graph.to_wire()
    return to_networkx(wire)


# a confirm rerun (lockorder confirm, run --confirm, pytest --lockorder-confirm):
# its plan steers the slow path (docs/confirm.md); nothing when LOCKORDER_STEER is unset
from lockorder._steer import install_from_env as _steer_from_env  # noqa: E402

_steer_from_env()
