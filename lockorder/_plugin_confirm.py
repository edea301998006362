"""The pytest plugin's confirm step (``--lockorder-confirm``, docs/confirm.md).

At the end of the session, on the controller, each potential deadlock whose
edges one test made is confirmed by rerunning that test in a subprocess, steered
(lockorder._confirm). A cycle whose edges two tests made cannot be confirmed by
rerunning either: pytest runs them one after the other. Such findings are
``not-attempted``, naming the tests.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from lockorder._findings import Finding
    from lockorder._plugin_options import Options

__all__ = ["confirm_session", "rerun_options"]


def rerun_options(config: pytest.Config) -> list[str]:
    """What the rerun of one test adds to pytest's command line: no xdist."""
    return ["-n", "0"] if config.pluginmanager.hasplugin("xdist") else []


def confirm_session(
    config: pytest.Config, options: Options, findings: list[Finding]
) -> list[Finding]:
    """``findings``, each potential deadlock with its verdict."""
    from lockorder._confirm import confirm_findings, edge_tests, pytest_rerun
    from lockorder._confirm_cli import options_from, why_not_one_test
    from lockorder._state import checker

    if os.environ.get("LOCKORDER_STEER"):  # this is a rerun: never rerun from it
        return findings
    settings = options_from(options.confirm_values, checker.project)
    rootdir = str(config.rootpath)
    cwd = str(config.invocation_params.dir)
    extra = rerun_options(config)

    def rerun_for(finding: Finding) -> object:
        tests = edge_tests(finding)
        if len(tests) != 1:
            return why_not_one_test(tests)
        return pytest_rerun(tests[0], rootdir, cwd, extra, settings)

    reporter = config.pluginmanager.getplugin("terminalreporter")

    def progress(text: str) -> None:
        if reporter is not None:
            reporter.write_line(f"lockorder: {text}")

    return confirm_findings(findings, rerun_for, cwd, settings, progress)  # type: ignore[arg-type]
