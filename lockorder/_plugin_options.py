"""The pytest plugin's settings: its options and ini keys (one help text each),
and how the effective settings are resolved and validated (ini, then the
environment, then the command line). Imported by lockorder.pytest_plugin in
every pytest run, so it imports only pytest and lockorder's configuration.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any

import pytest

from lockorder._config import MODES, SINGLE_THREAD_POLICIES, validate_bool
from lockorder._confirm import OPTION_LIMITS, parse_option
from lockorder._impl import check_environment, implementation
from lockorder.errors import ConfigurationError

ENABLE_HELP = "Check lock order and lock discipline in the tests (lockorder)"
DISABLE_HELP = "Disable lockorder whatever the ini setting or LOCKORDER say (e.g. for debuggers)"
MODE_HELP = (
    "What a finding does: raise = the test fails with the report (default), "
    "warn = a LockOrderWarning, record = only in the summary and reports"
)
SINGLE_THREAD_HELP = (
    "Cycles seen in one thread only (docs/concepts.md): report = a warning (default), "
    "strict = a full finding, ignore = nothing"
)
REPORT_HELP = (
    "Write a report at the end of the session: json, html, sarif, dot or graphml, "
    "optionally with :DEST (default lockorder.json, lockorder.html, lockorder.sarif, "
    "lockorder.dot, lockorder.graphml). "
    "Repeatable; an empty value (or 'none') for no report files"
)
FAIL_ON_HELP = (
    "Lowest finding severity that fails: error (default), warning or never. In raise "
    "mode it fails the test; findings outside tests fail the run"
)
LONG_WAIT_HELP = (
    "Seconds a lock may be waited on before a long-wait warning (default 5; 0 for none)"
)
LONG_HOLD_HELP = "Seconds a lock may be held before a long-hold warning (default 10; 0 for none)"
DUMP_AFTER_HELP = (
    "Seconds after which a still-running test gets lockorder.dump() printed to stderr: "
    "who holds and waits for what (default: 80% of pytest-timeout's timeout, else 60; "
    "0 for never)"
)
CONFIRM_HELP = (
    "After the session, rerun the test that made each potential deadlock, steered "
    "until the real deadlock forms, to confirm it (docs/confirm.md)"
)
CONFIRM_VALUE_HELP = {
    "attempts": "Confirm: reruns per finding at most (default 3)",
    "budget": "Confirm: seconds per finding, all its reruns together (default 60)",
    "total": "Confirm: seconds for every finding together (default 600)",
    "pause": "Confirm: seconds a thread waits at an edge for the others (default 2)",
}
REPORT_TYPES = ("json", "html", "sarif", "dot", "graphml")
FAIL_ON = ("error", "warning", "never")
MARKER = (
    "lockorder(mode=None, single_thread=None, allow=()): lockorder settings for this "
    "test: mode (raise, warn, record) and single_thread (report, strict, ignore) "
    "override the session's; allow lists patterns (fnmatch) of finding kinds, lock "
    "names or lock sites whose findings this test does not fail on"
)
MARKER_KEYS = ("mode", "single_thread", "allow")
SCHEMA = 1


# -- settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """The effective plugin settings."""

    enabled: bool = False
    mode: str = "raise"
    single_thread: str = "report"
    fail_on: str = "error"
    reports: tuple[tuple[str, str], ...] = ()
    long_wait: float = 5.0
    long_hold: float = 10.0
    dump_after: float | None = None
    #: --lockorder-confirm: rerun steered, to confirm potential deadlocks
    confirm: bool = False
    #: the confirm settings given in the ini file or on the command line (the
    #: plugin adds [tool.lockorder]'s beneath them)
    confirm_values: dict[str, float | int] = field(default_factory=dict)
    #: where each setting came from, for error messages and the header
    sources: dict[str, str] = field(default_factory=dict)

    def header(self) -> str:
        reports = ", ".join(f"{kind}:{dest}" for kind, dest in self.reports) or "none"
        return (
            f"lockorder: mode={self.mode}, single_thread={self.single_thread}, "
            f"fail_on={self.fail_on}, reports={reports}, long_wait={self.long_wait:g}, "
            f"long_hold={self.long_hold:g}"
            + (", confirm=on" if self.confirm else "")
            + f", implementation={implementation()}"
        )


def _invalid(setting: str, value: Any, expected: str, where: str) -> pytest.UsageError:
    """A usage error worded as every invalid setting is (docs/api.md, "Invalid
    values"): the setting, what it takes, the value and where it came from."""
    return pytest.UsageError(str(ConfigurationError(setting, value, expected, where)))


def _choice(setting: str, value: Any, choices: tuple[str, ...], where: str) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise _invalid(setting, value, "one of " + ", ".join(choices), where)
    return text


def _bool(setting: str, value: str, where: str) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y", "t"):
        return True
    if text in ("0", "false", "no", "off", "n", "f", ""):
        return False
    raise _invalid(setting, value, "a boolean (1/0, true/false, yes/no, on/off)", where)


def _reports(values: list[str], where: str) -> tuple[tuple[str, str], ...]:
    reports: dict[str, str] = {}
    for value in values:
        if value.strip().lower() in ("", "none"):
            reports.clear()
            continue
        kind, _, dest = value.partition(":")
        kind = kind.strip().lower()
        if kind not in REPORT_TYPES:
            raise _invalid(
                "a lockorder report",
                value,
                "TYPE[:DEST] with TYPE one of " + ", ".join(REPORT_TYPES),
                where,
            )
        if dest.strip() == "-":  # pytest's standard output is its terminal report
            raise _invalid(
                "a lockorder report's destination",
                value,
                "a file (not '-': pytest's standard output is its own report)",
                where,
            )
        reports[kind] = dest or f"lockorder.{kind}"
    return tuple(reports.items())


def _argtype(choices: tuple[str, ...]) -> Any:
    def check(value: str) -> str:
        if value.strip().lower() not in choices:
            raise argparse.ArgumentTypeError(
                f"invalid choice: {value!r} (choose from: {', '.join(choices)})"
            )
        return value.strip().lower()

    return check


def resolve(config: pytest.Config, namespace: Any = None) -> Options:
    """The effective options: ini, then environment, then command line."""
    ns = namespace if namespace is not None else config.option
    sources: dict[str, str] = {}
    ini = str(config.inipath) if config.inipath is not None else "the configuration file"
    enabled = _bool("lockorder", config.getini("lockorder"), ini)
    if os.environ.get("LOCKORDER", "") != "":
        # read as lockorder reads it everywhere (lockorder run, the import)
        try:
            enabled = validate_bool("LOCKORDER", os.environ["LOCKORDER"], "the environment")
        except ConfigurationError as exc:
            raise pytest.UsageError(str(exc)) from None
    if getattr(ns, "lockorder", None):
        enabled = True
    if getattr(ns, "no_lockorder", False):
        enabled = False
    if not enabled:  # the other settings are not read (nor judged) when off
        return Options()
    try:
        # every LOCKORDER_* variable lockorder reads, judged as lockorder run
        # judges them (one list: lockorder._config.ENVIRONMENT, and LOCKORDER_IMPL)
        env_settings = check_environment()
    except ConfigurationError as exc:
        raise pytest.UsageError(str(exc)) from None
    mode = "raise"
    single = "report"
    fail_on = "error"
    ini_mode = str(config.getini("lockorder_mode") or "")
    if ini_mode:
        mode = _choice("lockorder_mode", ini_mode, MODES, ini)
        sources["mode"] = "config file"
    ini_single = str(config.getini("lockorder_single_thread") or "")
    if ini_single:
        single = _choice("lockorder_single_thread", ini_single, SINGLE_THREAD_POLICIES, ini)
    ini_fail = str(config.getini("lockorder_fail_on") or "")
    if ini_fail:
        fail_on = _choice("lockorder_fail_on", ini_fail, FAIL_ON, ini)
    ini_reports = list(config.getini("lockorder_report") or [])
    reports = _reports(ini_reports, ini) if ini_reports else ()

    if os.environ.get("LOCKORDER_MODE", "") != "":
        mode = env_settings.mode
    if os.environ.get("LOCKORDER_SINGLE_THREAD", "") != "":
        single = env_settings.single_thread

    mode = getattr(ns, "lockorder_mode", None) or mode
    single = getattr(ns, "lockorder_single_thread", None) or single
    fail_on = getattr(ns, "lockorder_fail_on", None) or fail_on
    cli_reports = getattr(ns, "lockorder_report", None)
    if cli_reports is not None:
        reports = _reports(cli_reports, "--lockorder-report")
    seconds: dict[str, float | None] = {"long_wait": 5.0, "long_hold": 10.0, "dump_after": None}
    for key in seconds:
        ini_value = str(config.getini(f"lockorder_{key}") or "")
        if ini_value:
            seconds[key] = _seconds(f"lockorder_{key}", ini_value, ini)
        cli_value = getattr(ns, f"lockorder_{key}", None)
        if cli_value is not None:
            seconds[key] = cli_value
    confirm = _bool("lockorder_confirm", config.getini("lockorder_confirm"), ini)
    if getattr(ns, "lockorder_confirm", None):
        confirm = True
    confirm_values: dict[str, float | int] = {}
    for key in CONFIRM_VALUE_HELP:
        ini_value = str(config.getini(f"lockorder_confirm_{key}") or "")
        if ini_value:
            number = parse_option(key, ini_value)
            if number is None:
                raise _invalid(f"lockorder_confirm_{key}", ini_value, OPTION_LIMITS[key][0], ini)
            confirm_values[key] = number
        cli_value = getattr(ns, f"lockorder_confirm_{key}", None)
        if cli_value is not None:
            confirm_values[key] = cli_value
    return Options(
        enabled,
        mode,
        single,
        fail_on,
        reports,
        sources=sources,
        long_wait=seconds["long_wait"] or 0.0,
        long_hold=seconds["long_hold"] or 0.0,
        dump_after=seconds["dump_after"],
        confirm=confirm,
        confirm_values=confirm_values,
    )


def _parse_seconds(value: str) -> float | None:
    """``value`` as a number of seconds >= 0, or None if it is not one."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if 0 <= number < float("inf") else None


def _seconds(setting: str, value: str, where: str) -> float:
    number = _parse_seconds(value)
    if number is None:
        raise _invalid(setting, value, "a number of seconds >= 0", where)
    return number


def _seconds_type(value: str) -> float:
    number = _parse_seconds(value)
    if number is None:
        raise argparse.ArgumentTypeError(f"invalid value: {value!r} (a number of seconds >= 0)")
    return number
