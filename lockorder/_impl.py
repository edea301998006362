"""Which implementation runs the steady state of a checked Lock: the optional C
extension (lockorder/_speedups.c) or the Python code (lockorder/_primitives.py).

The C functions do the common case only and call the Python methods for
everything else, so both behave the same (docs/performance.md, "The C hot
path"). ``LOCKORDER_IMPL=python`` forces the Python code; ``LOCKORDER_IMPL=c``
makes a missing extension an error instead of a silent fallback. A
free-threaded build runs the Python code: the C functions rely on the GIL.
"""

from __future__ import annotations

import importlib
import os
import sysconfig
from types import ModuleType
from typing import Any

from lockorder.errors import ConfigurationError

__all__ = ["implementation", "speed_up", "why_python"]

_CHOICES = ("c", "python")


def _load() -> tuple[ModuleType | None, str]:
    """The extension module, or None and why not."""
    requested = os.environ.get("LOCKORDER_IMPL", "").strip().lower()
    if requested and requested not in _CHOICES:
        raise ConfigurationError(
            "LOCKORDER_IMPL", os.environ["LOCKORDER_IMPL"], "'c' or 'python'", "the environment"
        )
    if requested == "python":
        return None, "LOCKORDER_IMPL=python"
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        why = "a free-threaded build (the C hot path relies on the GIL)"
    else:
        try:
            speedups = importlib.import_module("lockorder._speedups")
        except ModuleNotFoundError:
            why = "the C extension was not built (no C compiler at install?)"
        except ImportError as exc:
            why = f"the C extension failed to load: {exc}"
        else:
            return speedups, ""
    if requested == "c":
        raise ConfigurationError(
            "LOCKORDER_IMPL",
            "c",
            "'c' or 'python'",
            "the environment",
            message=f"LOCKORDER_IMPL=c, but the C implementation cannot run here: {why}",
        )
    return None, why


_speedups, _why = _load()
_running = "python"


def speed_up(lock_class: type, checked: type, thread_state: type, tls: Any) -> None:
    """Put the C steady state in ``lockorder.Lock`` (when the C implementation runs)."""
    global _running
    if _speedups is None:
        return
    methods = _speedups.setup(checked, thread_state, tls, lock_class)
    for name, method in methods.items():
        setattr(lock_class, name, method)
    lock_class.acquire_lock = methods["acquire"]  # type: ignore[attr-defined]
    lock_class.release_lock = methods["release"]  # type: ignore[attr-defined]
    _running = "c"


def implementation() -> str:
    """``"c"`` when the compiled hot path runs, else ``"python"`` (see :func:`why_python`)."""
    return _running


def why_python() -> str:
    """Why the Python implementation runs ("" when the C one does)."""
    return "" if _running == "c" else _why
