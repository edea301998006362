"""The pytest plugin (entry point ``pytest11: lockorder``): ``pytest --lockorder``.

Off unless asked: without ``--lockorder`` (or the ``lockorder`` ini setting, or
``LOCKORDER=1``) this module registers its options and its marker, and nothing
else happens: no patching, no plugin object, no cost. This module is imported
in every pytest run of every project that has lockorder installed, so at module
level it imports only pytest and lockorder's small settings modules
(lockorder._plugin_options); the stateful plugin (lockorder._plugin_session) is
imported only when lockorder is enabled.

Settings come from, lowest precedence first: the ini file, the environment,
the command line, the ``lockorder`` marker of a test. See docs/pytest.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from lockorder._config import MODES, SINGLE_THREAD_POLICIES
from lockorder._confirm import argtype as confirm_type
from lockorder._plugin_options import (
    CONFIRM_HELP,
    CONFIRM_VALUE_HELP,
    DISABLE_HELP,
    DUMP_AFTER_HELP,
    ENABLE_HELP,
    FAIL_ON,
    FAIL_ON_HELP,
    LONG_HOLD_HELP,
    LONG_WAIT_HELP,
    MARKER,
    MODE_HELP,
    REPORT_HELP,
    SINGLE_THREAD_HELP,
    _argtype,
    _seconds_type,
    resolve,
)

if TYPE_CHECKING:
    from lockorder._findings import Finding
    from lockorder._plugin_session import LockorderPlugin

__all__ = ["LockorderFindings"]


# -- hooks that always run ----------------------------------------------------------------


def _options(parser: pytest.Parser) -> Callable[..., None]:
    """``addoption`` of lockorder's group, with ``help`` given as the text to show.

    argparse reads a help text as a %-format (``%(default)s``): a plain ``%``
    (``80% of``) made every ``pytest --help`` fail, in every project that has
    lockorder installed. The help texts are plain text, shared with the ini
    keys (which pytest prints as they are), so the escaping is done here, for
    every option."""
    group = parser.getgroup("lockorder", "lock-order and deadlock checking")

    def add(*names: str, help: str, **attrs: Any) -> None:
        group.addoption(*names, help=help.replace("%", "%%"), **attrs)

    return add


def pytest_addoption(parser: pytest.Parser) -> None:
    addoption = _options(parser)
    addoption("--lockorder", action="store_true", default=None, help=ENABLE_HELP)
    addoption(
        "--no-lockorder",
        action="store_true",
        default=False,
        dest="no_lockorder",
        help=DISABLE_HELP,
    )
    for flag, metavar, choices, text in (
        ("mode", "MODE", MODES, MODE_HELP),
        ("single-thread", "POLICY", SINGLE_THREAD_POLICIES, SINGLE_THREAD_HELP),
        ("fail-on", "SEVERITY", FAIL_ON, FAIL_ON_HELP),
    ):
        addoption(
            f"--lockorder-{flag}",
            dest=f"lockorder_{flag.replace('-', '_')}",
            metavar=metavar,
            type=_argtype(choices),
            default=None,
            help=text,
        )
    addoption(
        "--lockorder-report",
        dest="lockorder_report",
        action="append",
        metavar="TYPE[:DEST]",
        default=None,
        help=REPORT_HELP,
    )
    for key, text in (
        ("long_wait", LONG_WAIT_HELP),
        ("long_hold", LONG_HOLD_HELP),
        ("dump_after", DUMP_AFTER_HELP),
    ):
        addoption(
            f"--lockorder-{key.replace('_', '-')}",
            dest=f"lockorder_{key}",
            metavar="SECONDS",
            type=_seconds_type,
            default=None,
            help=text,
        )
        parser.addini(f"lockorder_{key}", text, type="string", default="")
    addoption("--lockorder-confirm", action="store_true", default=None, help=CONFIRM_HELP)
    parser.addini("lockorder_confirm", CONFIRM_HELP, type="string", default="")
    for key, text in CONFIRM_VALUE_HELP.items():
        addoption(
            f"--lockorder-confirm-{key}",
            dest=f"lockorder_confirm_{key}",
            metavar="N" if key == "attempts" else "SECONDS",
            type=confirm_type(key),
            default=None,
            help=text,
        )
        parser.addini(f"lockorder_confirm_{key}", text, type="string", default="")
    # a string, read by lockorder: pytest's own bool type rejects a typo without
    # naming the setting
    parser.addini("lockorder", ENABLE_HELP, type="string", default="")
    parser.addini("lockorder_mode", MODE_HELP, type="string", default="")
    parser.addini("lockorder_single_thread", SINGLE_THREAD_HELP, type="string", default="")
    parser.addini("lockorder_fail_on", FAIL_ON_HELP, type="string", default="")
    parser.addini("lockorder_report", REPORT_HELP, type="args", default=[])


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    # The only point early enough to patch threading before conftests and test
    # modules (and their module-level locks) are imported.
    options = resolve(early_config, early_config.known_args_namespace)
    if options.enabled and not early_config.pluginmanager.has_plugin(_PLUGIN_NAME):
        from lockorder._plugin_session import LockorderPlugin

        early_config.pluginmanager.register(LockorderPlugin(early_config, options), _PLUGIN_NAME)


def pytest_configure(config: pytest.Config) -> None:
    # registered even when checking is off, so --strict-markers suites keep working
    config.addinivalue_line("markers", MARKER)
    if config.pluginmanager.has_plugin(_PLUGIN_NAME):
        return
    options = resolve(config)
    if options.enabled:  # loaded too late for the early install (e.g. with -p)
        from lockorder._plugin_session import LockorderPlugin

        config.pluginmanager.register(LockorderPlugin(config, options), _PLUGIN_NAME)


_PLUGIN_NAME = "lockorder-session"


class LockorderFindings:
    """What the ``lockorder_findings`` fixture gives a test: the findings recorded
    during this test so far (a live view), plus the whole run's.

    Iterating, ``len()`` and truth look at this test's findings, so
    ``assert not lockorder_findings`` checks the test is clean.
    """

    def __init__(self, plugin: LockorderPlugin | None, start: int) -> None:
        self._plugin = plugin
        self._start = start

    @property
    def enabled(self) -> bool:
        """Whether lockorder checks this run (``--lockorder``)."""
        return self._plugin is not None

    @property
    def all(self) -> list[Finding]:
        """Every finding of the run so far."""
        if self._plugin is None:
            return []
        from lockorder._state import checker

        return checker.findings()

    def _mine(self) -> list[Finding]:
        if self._plugin is None:
            return []
        from lockorder._state import checker

        return checker.findings_since(self._start)[0]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._mine())

    def __len__(self) -> int:
        return len(self._mine())

    def __bool__(self) -> bool:
        return bool(self._mine())

    def __getitem__(self, index: int) -> Finding:
        return self._mine()[index]

    def kinds(self) -> list[str]:
        return [finding.kind for finding in self._mine()]

    def __repr__(self) -> str:
        return f"<lockorder findings of this test: {self._mine()!r}>"


@pytest.fixture
def lockorder_findings(request: pytest.FixtureRequest) -> LockorderFindings:
    """The lockorder findings recorded during this test (empty when lockorder is off)."""
    plugin = request.config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if plugin is None:
        return LockorderFindings(None, 0)
    from lockorder._state import checker

    return LockorderFindings(
        plugin, plugin.test_start.get(request.node.nodeid, checker.findings_made())
    )
