"""The commands these tests run, each in a subprocess of the Python running them,
bounded by a timeout, its output captured as text, its exit status left to the test.

``env=None`` passes this process's environment on as it is (with the suite's
``PYTEST_ADDOPTS=-p no:asyncio``, tests/conftest.py); :func:`environment` makes
another: this one without the variables a test must not pass on, plus its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

#: seconds a command may take unless its test gives it more
TIMEOUT = 60

#: the prefixes of the variables a user's shell has none of: this session's
#: lockorder settings and pytest's (the suite's PYTEST_ADDOPTS, xdist's workers')
USER = ("LOCKORDER", "PYTEST")

#: a CI's own variables, which pytest reads (it shows long assertions whole under CI)
CI = ("CI", "BUILD_NUMBER")


def environment(
    without: tuple[str, ...] = ("LOCKORDER",),
    names: tuple[str, ...] = (),
    /,
    **overrides: str | None,
) -> dict[str, str]:
    """This process's environment without the variables whose names start with one
    of ``without`` or are one of ``names``, then ``overrides`` (``None`` leaves a
    variable out)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(without) and k not in names}
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def user_environment(**overrides: str | None) -> dict[str, str]:
    """A user's shell: none of this session's lockorder or pytest settings, not a CI."""
    return environment(USER, CI, **overrides)


def command(
    argv: Sequence[str],
    cwd: Path | None = None,
    *,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
    stdout: int | IO[str] = subprocess.PIPE,
) -> subprocess.CompletedProcess[str]:
    """``argv`` run in ``cwd``; its standard output goes to ``stdout``."""
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=False,
    )


def lockorder(
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
    stdout: int | IO[str] = subprocess.PIPE,
) -> subprocess.CompletedProcess[str]:
    """``python -m lockorder ARGS`` in ``cwd``."""
    argv = [sys.executable, "-m", "lockorder", *args]
    return command(argv, cwd, env=env, timeout=timeout, stdout=stdout)


def pytest(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest ARGS`` in ``cwd``."""
    return command([sys.executable, "-m", "pytest", *args], cwd, env=env, timeout=timeout)


def python(
    cwd: Path | None,
    code: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """``python -c CODE ARGS`` in ``cwd`` (``None``: this process's)."""
    return command([sys.executable, "-c", code, *args], cwd, env=env, timeout=timeout)


def copy_made(made: Path, into: Path) -> None:
    """The files of ``made``, a folder a command ran in once for a module's tests
    (each test would run it again, in its own folder, to the same end), copied
    into ``into``: the reports' paths into ``made`` name ``into`` instead, as if
    the command had run there."""
    for path in made.iterdir():
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            text = text.replace(str(made), str(into))
        (into / path.name).write_text(text, encoding="utf-8")
