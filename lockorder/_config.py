"""Settings: the mode, the single-thread policy, the waits; read from the environment.

Each setting is validated by one function that names the setting, the value and
where it came from (:class:`~lockorder.errors.ConfigurationError`).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from typing import Any

from lockorder.errors import ConfigurationError, LockOrderWarning

__all__ = [
    "MODES",
    "SINGLE_THREAD_POLICIES",
    "Settings",
    "settings_from_env",
]

MODES = ("raise", "warn", "record")
SINGLE_THREAD_POLICIES = ("report", "strict", "ignore")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """The effective settings of the checker (see docs/concepts.md)."""

    enabled: bool = True
    #: what a finding does: raise an exception, warn, or only record it
    mode: str = "raise"
    #: cycles made by one thread only: "report" (warning level), "strict" (full), "ignore"
    single_thread: str = "report"
    #: seconds a blocking re-acquire of a held Lock waits for another thread's
    #: release before it is called a self-deadlock (when other threads exist)
    self_deadlock_wait: float = 1.0
    #: whether a certain deadlock (a self-deadlock, a wait-for cycle) raises in
    #: the blocked acquire; None: in raise and warn modes (record mode then
    #: blocks as the stdlib would)
    break_deadlocks: bool | None = None
    #: seconds a blocked acquire waits before it checks for a wait-for cycle
    #: (and between checks); 0 turns the check off
    deadlock_check: float = 0.2
    #: a lock waited on longer than this is a warning-level finding (0: off)
    long_wait: float = 0.0
    #: a lock held longer than this is a warning-level finding (0: off)
    long_hold: float = 0.0
    #: the JSON report a running process keeps up to date ("{pid}" expands;
    #: "": none) (lockorder._live, docs/production.md)
    report: str = ""
    #: the signal that prints dump() to stderr and writes the report ("SIGUSR1";
    #: "": none)
    dump_signal: str = ""


def validate_mode(value: Any, source: str) -> str:
    if not isinstance(value, str) or value.strip().lower() not in MODES:
        raise ConfigurationError("mode", value, "one of " + ", ".join(MODES), source)
    return value.strip().lower()


def validate_single_thread(value: Any, source: str) -> str:
    if not isinstance(value, str) or value.strip().lower() not in SINGLE_THREAD_POLICIES:
        raise ConfigurationError(
            "single_thread", value, "one of " + ", ".join(SINGLE_THREAD_POLICIES), source
        )
    return value.strip().lower()


def validate_bool(name: str, value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    if type(value) is int and value in (0, 1):  # as the message says: 1/0
        return value == 1
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigurationError(name, value, "a boolean (1/0, true/false, yes/no, on/off)", source)


def validate_seconds(name: str, value: Any, source: str) -> float:
    if isinstance(value, bool):  # float(True) is 1.0: a mistake, not a duration
        raise ConfigurationError(name, value, "a number of seconds", source)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(name, value, "a number of seconds", source) from None
    if not seconds >= 0 or seconds == float("inf"):
        raise ConfigurationError(name, value, "a finite number of seconds >= 0", source)
    return seconds


def validate_report(value: Any, source: str) -> str:
    """A report path: "" (none) or a path whose only braces are ``{pid}``."""
    expected = "a file path, where {pid} stands for the process id ('' for none)"
    if not isinstance(value, str):
        raise ConfigurationError("report", value, expected, source)
    rest = value.replace("{pid}", "")
    if "{" in rest or "}" in rest or "\0" in value or value.endswith(("/", os.sep)):
        raise ConfigurationError("report", value, expected, source)
    return value


#: signals a dump cannot take: those a process cannot catch, those that mean
#: something to Python, and SIGTERM, whose default action a supervisor relies on
_UNCATCHABLE = frozenset(
    {"SIGKILL", "SIGSTOP", "SIGINT", "SIGSEGV", "SIGFPE", "SIGILL", "SIGBUS", "SIGTERM"}
)


def validate_signal(value: Any, source: str) -> str:
    """A signal's name, as ``USR1`` or ``SIGUSR1`` (canonical: ``SIGUSR1``), or ""."""
    import signal

    names = sorted(
        s.name for s in signal.Signals if s.name.startswith("SIG") and s.name not in _UNCATCHABLE
    )
    expected = "a signal name such as USR1 ('' for none)"
    if not isinstance(value, str):
        raise ConfigurationError("dump_signal", value, expected, source)
    name = value.strip().upper()
    if name == "":
        return ""
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name in _UNCATCHABLE:
        # a real signal, kept for its own job: a stop, an interrupt or a crash
        expected = (
            "a signal name such as USR1, not TERM, INT, KILL, STOP, SEGV, FPE, ILL or BUS, "
            "which stop or crash the program ('' for none)"
        )
    if name not in names:
        raise ConfigurationError("dump_signal", value, expected, source)
    return name


def apply(settings: Settings, source: str, **changes: Any) -> Settings:
    """Return ``settings`` with ``changes`` validated and applied."""
    validated: dict[str, Any] = {}
    for key, value in changes.items():
        if value is None:
            continue
        if key == "mode":
            validated[key] = validate_mode(value, source)
        elif key == "single_thread":
            validated[key] = validate_single_thread(value, source)
        elif key == "enabled":
            validated[key] = validate_bool("enabled", value, source)
        elif key == "self_deadlock_wait":
            validated[key] = validate_seconds(key, value, source)
        elif key == "break_deadlocks":
            validated[key] = validate_bool(key, value, source)
        elif key in ("deadlock_check", "long_wait", "long_hold"):
            validated[key] = validate_seconds(key, value, source)
        elif key == "report":
            validated[key] = validate_report(value, source)
        elif key == "dump_signal":
            validated[key] = validate_signal(value, source)
        else:
            raise TypeError(f"lockorder.configure() got an unexpected keyword argument {key!r}")
    return replace(settings, **validated)


ENVIRONMENT = (
    ("LOCKORDER", "enabled"),
    ("LOCKORDER_MODE", "mode"),
    ("LOCKORDER_SINGLE_THREAD", "single_thread"),
    ("LOCKORDER_SELF_DEADLOCK_WAIT", "self_deadlock_wait"),
    ("LOCKORDER_DEADLOCK_CHECK", "deadlock_check"),
    ("LOCKORDER_LONG_WAIT", "long_wait"),
    ("LOCKORDER_LONG_HOLD", "long_hold"),
    ("LOCKORDER_REPORT", "report"),
    ("LOCKORDER_DUMP_SIGNAL", "dump_signal"),
)


#: problems with the environment's values found at import, not yet told (see
#: warn_pending): a tool that reports them its own way drops them instead
_pending: list[str] = []


def settings_from_env(
    environ: os._Environ[str] | dict[str, str] | None = None, strict: bool = True
) -> Settings:
    """Read the ``LOCKORDER*`` variables of :data:`ENVIRONMENT`.

    An invalid value raises :class:`ConfigurationError` naming the variable and
    the values it takes. With ``strict=False`` (at import) the setting keeps its
    default and the problem waits in a list: :func:`warn_pending` tells it, once,
    as a one-line :class:`LockOrderWarning` when lockorder is first used, so a
    typo in the environment cannot break every program that imports lockorder,
    and the ``lockorder`` command and the pytest plugin, which reject it with an
    error of their own, do not also warn.
    """
    env = os.environ if environ is None else environ
    settings = Settings()
    for var, key in ENVIRONMENT:
        if env.get(var, "") == "":
            continue
        try:
            settings = apply(settings, "the environment", **{key: env[var]})
        except ConfigurationError as exc:
            error = ConfigurationError(var, exc.value, exc.expected, "the environment")
            if strict:
                raise error from None
            _pending.append(f"{error}; using the default")
    return settings


def warn_pending() -> None:
    """Tell the environment's problems found at import, each in one line."""
    while _pending:
        message = _pending.pop(0)
        # no file and line of lockorder's own (the value came from the environment)
        warnings.warn_explicit(
            LockOrderWarning(message), LockOrderWarning, "<environment>", 0, module="lockorder"
        )


def drop_pending() -> None:
    """Forget the problems found at import: the caller reports them itself."""
    _pending.clear()
