"""Which implementation runs the steady state of a checked Lock and RLock: the optional C
extension (lockorder/_speedups.c) or the Python code (lockorder/_primitives.py).

The C functions do the common case only and call the Python methods for
everything else, so both behave the same (docs/performance.md, "The C hot
path"). ``LOCKORDER_IMPL=python`` forces the Python code; ``LOCKORDER_IMPL=c``
makes a missing extension an error instead of a silent fallback. A
free-threaded build runs the Python code: the C functions rely on the GIL.

The choice is made at import, and the import never fails on it (docs/api.md,
"Invalid values"): an invalid ``LOCKORDER_IMPL``, or ``c`` where the C code
cannot run, makes the default choice (the Python code for ``c``) and waits in
lockorder._config's list of the environment's problems, told once when
lockorder is first used; the tools, ``lockorder run`` and the pytest plugin
when it is on, reject it themselves (:func:`check_environment`).
"""

from __future__ import annotations

import importlib
import os
import sysconfig
from types import ModuleType
from typing import Any

from lockorder import _config, _unpatched
from lockorder.errors import ConfigurationError

__all__ = [
    "check_environment",
    "implementation",
    "python_methods",
    "speed_up",
    "why_python",
]

_CHOICES = ("c", "python")


def _load() -> tuple[ModuleType | None, str, ConfigurationError | None]:
    """The extension module, or None and why not; and what is wrong with
    ``LOCKORDER_IMPL`` (None when nothing is)."""
    raw = os.environ.get("LOCKORDER_IMPL", "")
    requested = raw.strip().lower()
    problem = None
    if requested and requested not in _CHOICES:
        problem = ConfigurationError("LOCKORDER_IMPL", raw, "'c' or 'python'", "the environment")
        requested = ""  # the default: C where it can run
    if requested == "python":
        return None, "LOCKORDER_IMPL=python", None
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
            return speedups, "", problem
    if requested == "c":
        problem = ConfigurationError(
            "LOCKORDER_IMPL",
            raw,
            "'c' or 'python'",
            "the environment",
            message=f"LOCKORDER_IMPL=c, but the C implementation cannot run here: {why}",
        )
    return None, why, problem


_speedups, _why, _problem = _load()
if _problem is not None:  # told once, when lockorder is first used (lockorder._config)
    _config._pending.append(
        f"{_problem}; using the {'Python' if _speedups is None else 'C'} implementation"
    )
_running = "python"


def speed_up(
    lock_class: type, rlock_class: type, checked: type, thread_state: type, tls: Any
) -> None:
    """Put the C steady state in ``lockorder.Lock`` and ``lockorder.RLock`` (when the C
    implementation runs); the Python methods stay reachable through :func:`python_methods`."""
    global _running
    if _speedups is None:
        return
    for_lock, for_rlock = _speedups.setup(checked, thread_state, tls, lock_class, rlock_class)
    # the raw locks taken and given back without a call where their layout is
    # the one the C code knows (probed on fresh ones)
    _speedups.raw_access(_unpatched.allocate_lock(), _unpatched.CRLock())
    for cls, methods in ((lock_class, for_lock), (rlock_class, for_rlock)):
        _python[cls] = {name: cls.__dict__[name] for name in methods}
        for name, method in methods.items():
            setattr(cls, name, method)
    lock_class.acquire_lock = for_lock["acquire"]  # type: ignore[attr-defined]
    lock_class.release_lock = for_lock["release"]  # type: ignore[attr-defined]
    _running = "c"


#: the Python methods the C ones replaced, by class (for the benchmarks)
_python: dict[type, dict[str, Any]] = {}


def python_methods(cls: type) -> dict[str, Any]:
    """The Python methods of ``cls`` that the C ones replaced ({} when the Python
    implementation runs): ``benchmarks/bench_hot_path.py`` measures both in one run."""
    return dict(_python.get(cls, {}))


def implementation() -> str:
    """``"c"`` when the compiled hot path runs, else ``"python"`` (see :func:`why_python`)."""
    return _running


def why_python() -> str:
    """Why the Python implementation runs ("" when the C one does)."""
    return "" if _running == "c" else _why


def check_environment() -> _config.Settings:
    """The tools' policy for the environment (``lockorder run``; the pytest
    plugin when it is on): every variable lockorder reads
    (:data:`lockorder._config.ENVIRONMENT`, and ``LOCKORDER_IMPL``) is judged,
    and the first invalid one raises :class:`ConfigurationError`, for the tool
    to reject in one line; ``LOCKORDER_IMPL`` is invalid also as ``c`` where the
    C implementation cannot run. Returns the settings the variables give. A
    program that imports lockorder is told with a warning instead."""
    settings = _config.settings_from_env()
    if _problem is not None:
        raise _problem
    return settings
