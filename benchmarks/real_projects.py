"""Run real projects' own test suites with and without ``pytest --lockorder``.

Standalone helper behind docs/real-projects.md; never part of the test suite.
Everything happens in a scratch directory (default /tmp/realproj), never in the
repository:

    python benchmarks/real_projects.py setup   [NAME ...]  # sdist, unpack, venv, install
    python benchmarks/real_projects.py run     [NAME ...]  # plain, raise, record runs
    python benchmarks/real_projects.py time    [NAME ...]  # extra plain/raise pairs, timing only
    python benchmarks/real_projects.py table   [NAME ...]  # compare outcomes, count findings

``setup`` downloads each project's sdist from the package index
(``pip download --no-deps --no-binary NAME``: the project's sdist, while its
build backend may come as a wheel), unpacks it, makes one virtual environment
per project (``venv-NAME``, with the interpreter that runs this script) and
installs lockorder (editable, from this checkout or from ``--lockorder PATH``,
e.g. a clean clone), the project (editable) and its test dependencies into it.

``run`` runs the suite from the unpacked sdist three times, one after the other
(never in parallel: the wall times are compared):

- ``plain``: without the plugin;
- ``raise``: ``--lockorder`` (default raise mode);
- ``record``: ``--lockorder --lockorder-mode=record --lockorder-report=json:...``

each with ``-p no:cacheprovider -rA --junitxml=...`` and the project's own extra
arguments, environment variables, folder, plugin and server (a fresh one on
loopback for each run, e.g. Debian's ``redis-server``; see PROJECTS), the venv's
``bin`` first on PATH (as under tox), bounded by a 600 s timeout. Logs, JUnit XML
files, the JSON report and the times (appended to ``walls.jsonl``: remove the
folder for a fresh start) go to ``WORKDIR/results/NAME/``. ``time`` adds
plain/raise pairs.

``table`` reads them back: per-test outcomes of the plain and raise runs (every
test that passes without the plugin and fails with it is listed), the findings
of the record run by kind and severity, and the wall-time ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 600


@dataclass
class Project:
    name: str  # short name: venv-NAME, results/NAME
    dist: str  # the distribution on the package index
    version: str
    kind: str  # what it is, for the docs table
    test_deps: list[str] = field(default_factory=list)
    extra: str = ""  # the project's own test extra, e.g. "testing"
    args: list[str] = field(default_factory=list)  # extra pytest arguments
    why_args: str = ""
    env: dict[str, str] = field(default_factory=dict)  # extra environment variables
    # source of a pytest plugin module the runs load (-p), for suites pytest needs help with
    plugin: str = ""
    cwd: str = ""  # where pytest runs, relative to the unpacked sdist
    # a server the suite needs, on loopback: the command (started before each run,
    # ended after it) and the port it listens on
    server: list[str] = field(default_factory=list)
    server_port: int = 0

    @property
    def stem(self) -> str:
        """The sdist's name as pip saves it: the normalized name (PEP 625)."""
        return f"{re.sub(r'[-_.]+', '_', self.dist).lower()}-{self.version}"

    def srcdir(self, dl: Path) -> Path:
        """The unpacked sdist (older sdists keep the name as spelled)."""
        for stem in (self.stem, f"{self.dist}-{self.version}"):
            if (dl / stem).is_dir():
                return dl / stem
        return dl / self.stem


# futurist's tests multiply their methods with testscenarios (TestWithScenarios.run
# runs a copy of the test per scenario). pytest sets the test method on the instance,
# bound to it, before running it: the copies kept that bound method, so each scenario
# ran on the original instance, without the scenario's attributes. Drop it from them.
TESTSCENARIOS_PLUGIN = """
import testscenarios.scenarios as _scenarios

_apply_scenario = _scenarios.apply_scenario


def apply_scenario(scenario, test):
    new = _apply_scenario(scenario, test)
    new.__dict__.pop(test._testMethodName, None)
    return new


_scenarios.apply_scenario = apply_scenario
"""

PROJECTS = {
    p.name: p
    for p in [
        Project(
            "readerwriterlock",
            "readerwriterlock",
            "1.0.10",
            "reader-writer lock library",
            test_deps=["pytest"],
            args=["tests"],
        ),
        Project(
            "pykka",
            "pykka",
            "4.5.0",
            "actor framework",
            # the sdist's "tests" dependency group, less pytest-cov
            test_deps=["pytest", "pytest-mock"],
        ),
        Project(
            "janus",
            "janus",
            "2.0.0",
            "sync/async queue",
            # test_benchmarks.py needs a `benchmark` fixture: pytest-codspeed
            test_deps=["pytest", "pytest-asyncio", "pytest-codspeed"],
            # setup.cfg's addopts are coverage options only (pytest-cov not installed)
            args=["-o", "addopts="],
            why_args="setup.cfg's addopts only configure pytest-cov",
        ),
        Project(
            "waitress",
            "waitress",
            "3.0.2",
            "threaded WSGI server",
            extra="testing",
            # setup.cfg's addopts are "--cov -W always": keep -W always, drop coverage
            args=["-o", "addopts=-W always"],
            why_args="setup.cfg's addopts less --cov (coverage tracing would blur the timing)",
        ),
        Project(
            "fasteners",
            "fasteners",
            "0.20",
            "library built on threading locks",
            # the sdist's "test" dependency group
            test_deps=["pytest", "diskcache", "eventlet", "more_itertools"],
        ),
        Project(
            "cheroot",
            "cheroot",
            "11.1.2",
            "threaded HTTP server",
            # dependencies/tests.in, less the coverage and cosmetic plugins
            test_deps=[
                "pytest",
                "requests",
                "requests_toolbelt",
                "requests-unixsocket",
                "jaraco.context",
                "jaraco.text>=3.1",
                "portend",
                "pypytools",
                "pytest-mock",
                "pytest-xdist",
                "pytest-rerunfailures",
                "trustme",
                # as in the sdist's dependencies/tox-py311-cp311-linux-x86_64.txt: newer
                # pyOpenSSL fails (a DeprecationWarning made an error) or hangs its tests
                "pyopenssl==25.3.0",
                "cryptography==46.0.3",
            ],
            args=[
                # pytest.ini's addopts less xdist, coverage and --durations; reruns off
                "-o",
                "addopts=--doctest-modules -p cheroot.test._pytest_plugin -p no:rerunfailures",
                "-o",
                "markers=flaky: reruns disabled here",
                "-o",
                "faulthandler_timeout=120",
            ],
            why_args="pytest.ini's addopts less -n auto, --cov and reruns",
        ),
        # The fourteen below: test dependencies from each sdist's own files, less
        # coverage and cosmetic plugins and the runners pytest replaces (stestr, tox).
        Project(
            "watchdog",
            "watchdog",
            "7.1.0",
            "filesystem events",
            # tox.ini: extras watchmedo, deps requirements-tests.txt less pytest-cov/xdist
            extra="watchmedo",
            test_deps=["pytest", "pytest-timeout", "flaky"],
            why_args="tox.ini runs `pytest -n auto`: run serially here",
        ),
        Project(
            "prometheus-client",
            "prometheus_client",
            "0.26.0",
            "metrics client",
            # no test requirements in the sdist: the extras its tests import, and asgiref
            extra="twisted,aiohttp,django",
            test_deps=["pytest", "asgiref"],
        ),
        Project(
            "futurist",
            "futurist",
            "3.5.0",
            "thread/green executors, periodic callbacks",
            # test-requirements.txt less coverage and stestr (pytest runs the testtools tests)
            test_deps=[
                "pytest",
                "eventlet",
                "oslotest",
                "testscenarios",
                "testtools",
                "prettytable",
            ],
            args=["futurist/tests"],
            plugin=TESTSCENARIOS_PLUGIN,
            why_args=(
                "tox.ini runs stestr; pytest runs the same testtools tests, with a plugin "
                "that lets testscenarios work under pytest (one pytest test per method, "
                "running all its scenarios)"
            ),
        ),
        Project(
            "transitions",
            "transitions",
            "0.9.3",
            "state machines (LockedMachine)",
            # requirements_test.txt less pytest-cov, pytest-runner, pytest-xdist
            test_deps=["pytest", "mock", "dill", "six", "pycodestyle"],
            args=["-o", "addopts=-rf", "tests"],
            why_args=(
                "pytest.ini's addopts less -x (run the whole suite); no diagrams "
                "dependencies, as in noxfile.py's test_no_gv session (graphviz needs `dot`)"
            ),
        ),
        Project(
            "httpcore",
            "httpcore",
            "1.0.9",
            "HTTP connection pool",
            # no test requirements in the sdist: all extras, and the plugins its tests use
            extra="asyncio,trio,http2,socks",
            test_deps=["pytest", "pytest-httpbin", "pytest-trio"],
            args=["tests"],
        ),
        Project(
            "filelock",
            "filelock",
            "3.20.0",
            "file locks with in-process reentrancy",
            # the "test" dependency group less covdefaults, diff-cover, pytest-cov
            test_deps=["pytest", "pytest-asyncio", "pytest-mock", "pytest-timeout", "virtualenv"],
        ),
        Project(
            "dogpile-cache",
            "dogpile.cache",
            "1.5.0",
            "caching with dogpile (mutex) locks",
            # the "tests" dependency group less pytest-xdist and junitparser
            test_deps=["pytest", "mako"],
            args=[
                "-m",
                "not time_intensive",
                "--ignore=tests/cache/test_memcached_backend.py",
                "--ignore=tests/cache/test_redis_backend.py",
                "--ignore=tests/cache/test_redis_sentinel_backend.py",
                "--ignore=tests/cache/test_valkey_backend.py",
                "--ignore=tests/cache/test_valkey_sentinel_backend.py",
            ],
            why_args=(
                "noxfile.py's default session (generic, memory, dbm; not time_intensive): "
                "the memcached/redis/valkey backends need servers"
            ),
        ),
        Project(
            "oslo-concurrency",
            "oslo.concurrency",
            "7.6.1",
            "inter-process and thread locks (lockutils)",
            # test-requirements.txt less coverage and stestr
            test_deps=["pytest", "oslotest", "fixtures"],
            args=[
                "oslo_concurrency/tests/unit",
                "--ignore=oslo_concurrency/tests/unit/test_lockutils_eventlet.py",
            ],
            why_args=(
                "tox.ini runs stestr on oslo_concurrency/tests/unit; stdlib threads here: "
                "test_lockutils_eventlet.py needs eventlet.monkey_patch() (TEST_EVENTLET "
                "set), without it its green threads hang on real locks"
            ),
        ),
        Project(
            "opentelemetry-sdk",
            "opentelemetry_sdk",
            "1.45.2",
            "tracing/metrics/logs SDK (batch processors, readers)",
            # no test requirements in the sdist: the packages its tests import
            test_deps=["pytest", "opentelemetry-test-utils", "psutil"],
            args=["tests"],
        ),
        Project(
            "paho-mqtt",
            "paho_mqtt",
            "2.2.0",
            "MQTT client (network loop thread)",
            # no test requirements in the sdist: its tests import only pytest
            test_deps=["pytest"],
            why_args=(
                "test_mqttv5.py skips itself: it needs a paho.mqtt.testing checkout, "
                "not in the sdist"
            ),
        ),
        Project(
            "execnet",
            "execnet",
            "2.1.2",
            "remote execution: gateways, channels, thread pool",
            # tox.ini's deps
            test_deps=["pytest", "pytest-timeout"],
            env={"PYTHONWARNDEFAULTENCODING": "1"},
            args=["--deselect=testing/test_gateway.py::TestPopenGateway::test_dont_write_bytecode"],
            why_args=(
                "tox.ini sets PYTHONWARNDEFAULTENCODING=1; test_dont_write_bytecode expects "
                "PYTHONDONTWRITEBYTECODE unset, which these runs set"
            ),
        ),
        Project(
            "persist-queue",
            "persist_queue",
            "1.1.0",
            "disk-based persistent queues (sqlite)",
            # test-requirements.txt less tox, flake8, coverage and virtualenv
            extra="extra,async",
            test_deps=["pytest", "pytest-asyncio", "mock", "eventlet", "msgpack", "cbor2"],
            args=["persistqueue/tests"],
            why_args="the MySQL tests skip themselves (no server)",
        ),
        Project(
            "portalocker",
            "portalocker",
            "4.4.2",
            "file and Redis locks",
            # the "tests" extra less coverage-conditional-plugin, pytest-cov, types-pywin32
            test_deps=[
                "pytest",
                "fakeredis>=2.31.0",
                "redis>=5.0",
                "pytest-rerunfailures",
                "pytest-timeout",
                "typing_extensions",
            ],
            args=[
                "-o",
                "addopts=--doctest-modules --doctest-glob=*.rst --timeout=20 "
                "--strict-config --strict-markers -ra",
            ],
            why_args="pyproject's addopts less the coverage options",
        ),
        Project(
            "sentry-sdk",
            "sentry_sdk",
            "2.75.0",
            "error monitoring SDK (background worker, transport)",
            # the sdist has no test requirements (its "test" group: pytest, pytest-cov);
            # the packages tests/conftest.py and the chosen tests import
            test_deps=[
                "pytest",
                "pytest-asyncio",
                "pytest-localserver",
                "jsonschema",
                "hypothesis",
                "brotli",
                "httpcore[http2,asyncio,socks]",
                "pysocks",
                "executing",
                # pytest-forked fails every forked test under pytest 9 here (the child
                # exits with status 3; 1.6.0 crashes): pytest 8 and pytest-forked 1.6.0
                "pytest<9",
                "pytest-forked==1.6.0",
            ],
            args=[
                "-o",
                "addopts=-rfEs --tb=short",
                "tests/test_basics.py",
                "tests/test_client.py",
                "tests/test_logs.py",
                "tests/test_metrics.py",
                "tests/test_monitor.py",
                "tests/test_sessions.py",
                "tests/test_transport.py",
                "tests/tracing/test_span_batcher.py",
                "tests/utils/test_contextvars.py",
                "tests/integrations/logging",
                "tests/integrations/threading",
            ],
            why_args=(
                "pyproject's addopts less -s and coverage. A subset: tests/ less "
                "tests/integrations (dozens of frameworks and services) takes over 450 s "
                "plain here (tests/profiler alone minutes, forked), so the files around its "
                "threads: client, transport (background worker), monitor, sessions "
                "(flusher), logs/metrics and span batchers, contextvars, and the threading "
                "and logging integrations (the stdlib one, httplib and subprocess spans, "
                "took 105 s more)"
            ),
        ),
        # Issue 24: asyncio suites, whose own code takes asyncio.Lock, Semaphore or
        # Condition (checked in each unpacked sdist).
        Project(
            "aiosmtplib",
            "aiosmtplib",
            "5.1.3",
            "asyncio SMTP client (a Lock around each command, connect and sendmail)",
            # requirements-dev.txt less coverage, pytest-cov and pytest-xdist
            test_deps=["pytest", "pytest-asyncio", "hypothesis", "aiosmtpd", "trustme"],
            why_args="its tests start a local aiosmtpd server on loopback",
        ),
        Project(
            "pyrate-limiter",
            "pyrate_limiter",
            "4.5.1",
            "asyncio rate limiter (asyncio.Lock per loop and thread)",
            # the "dev" group's test packages less coverage, xdist, retry and randomly
            extra="redis,filelock",
            test_deps=["pytest", "pytest-asyncio", "schedule", "aiohttp", "httpx", "requests"],
            env={"REDIS": "redis://127.0.0.1:6379"},
            server=["redis-server", "--port", "6379", "--bind", "127.0.0.1", "--save", ""],
            server_port=6379,
            why_args=(
                "its Redis buckets need a server: Debian's redis-server on 127.0.0.1; no "
                "PostgreSQL (psycopg not installed, so its buckets are not parametrized and "
                "test_postgres_concurrent.py skips); without pytest-retry (pyproject's "
                "retries = 2 would hide a failure) and pytest-randomly (one order for all runs)"
            ),
        ),
        Project(
            "redis",
            "redis",
            "8.2.0",
            "Redis client: asyncio connection pools (Lock, BlockingConnectionPool's Condition)",
            # dev_requirements.txt's test packages, for the asyncio tests chosen
            test_deps=["pytest", "pytest-asyncio", "pytest-timeout", "ujson", "numpy"],
            args=[
                "-o",
                "addopts=",
                "-m",
                "not onlycluster and not redismod and not ssl and not replica",
                "tests/test_asyncio/test_connection_pool.py",
                "tests/test_asyncio/test_connection.py",
                "tests/test_asyncio/test_connect.py",
                "tests/test_asyncio/test_lock.py",
                "tests/test_asyncio/test_pubsub.py",
                "tests/test_asyncio/test_pipeline.py",
                "tests/test_asyncio/test_retry.py",
                "tests/test_asyncio/test_cwe_404.py",
                "tests/test_asyncio/test_usage_counter.py",
                "tests/test_asyncio/test_encoding.py",
                "tests/test_asyncio/test_monitor.py",
                "tests/test_asyncio/test_scripting.py",
                "tests/test_asyncio/test_sentinel_managed_connection.py",
            ],
            server=["redis-server", "--port", "6379", "--bind", "127.0.0.1", "--save", ""],
            server_port=6379,
            why_args=(
                "the asyncio tests around connections, pools, locks, pub/sub and "
                "pipelines, against Debian's redis-server 7.0 on 127.0.0.1 (no cluster, "
                "modules, TLS or replica); pyproject's addopts (-s) dropped"
            ),
        ),
        Project(
            "aiohttp",
            "aiohttp",
            "3.14.5",
            "asyncio HTTP client/server: connector limits, websockets (a send Lock)",
            # requirements/test-common*.in less mypy, xdist and docker (coverage: only
            # for pytest.ini's warning filter, which names its module)
            test_deps=[
                "pytest",
                "coverage",
                "pytest-mock",
                "pytest-timeout",
                "freezegun",
                "blockbuster",
                "trustme",
                "proxy.py>=2.4.4rc5",
                "isal",
                "zlib_ng",
                "pytest-codspeed",
            ],
            args=[
                "-o",
                "addopts=--strict-markers",
                "-m",
                "not dev_mode and not autobahn and not internal",
                "tests/test_connector.py",
                "tests/test_client_ws.py",
                "tests/test_client_ws_functional.py",
                "tests/test_web_websocket.py",
                "tests/test_web_websocket_functional.py",
                "tests/test_websocket_writer.py",
                "tests/test_client_session.py",
            ],
            why_args=(
                "pytest.ini's addopts less xdist, coverage, doctests and --showlocals; the "
                "files of the connector (its limits) and the websocket client and server"
            ),
        ),
    ]
}

MODES = {
    "plain": [],
    "raise": ["--lockorder"],
    "record": ["--lockorder", "--lockorder-mode=record"],
}


def sh(cmd: list[str], **kw: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def find_sdist(dl: Path, p: Project) -> Path | None:
    for stem in (p.stem, f"{p.dist}-{p.version}"):
        if (dl / f"{stem}.tar.gz").is_file():
            return dl / f"{stem}.tar.gz"
    return None


def setup(work: Path, p: Project, lockorder: Path) -> None:
    dl = work / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    sdist = find_sdist(dl, p)
    if sdist is None:
        sh(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                p.dist,
                f"{p.dist}=={p.version}",
                "-d",
                str(dl),
            ]
        )
        sdist = find_sdist(dl, p)
        assert sdist is not None, f"no sdist {p.stem}.tar.gz in {dl}"
    if not p.srcdir(dl).is_dir():
        with tarfile.open(sdist) as tf:
            tf.extractall(dl, filter="data")
    venv = work / f"venv-{p.name}"
    if not venv.is_dir():
        sh([sys.executable, "-m", "venv", str(venv)])
    target = str(p.srcdir(dl)) + (f"[{p.extra}]" if p.extra else "")
    sh(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "-e",
            str(lockorder),
            "-e",
            target,
            *p.test_deps,
        ]
    )


def start_server(p: Project, log: Path) -> subprocess.Popen[bytes]:
    """Start the project's server (a fresh one for each run) and wait for its port."""
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", p.server_port)) == 0:
            sys.exit(f"port {p.server_port} is taken: {p.name} starts its own server there")
    print("+", " ".join(p.server), flush=True)
    with open(log, "w") as f:
        proc = subprocess.Popen(p.server, stdout=f, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", p.server_port)) == 0:
                return proc
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"{p.server[0]} did not listen on port {p.server_port} within 30 s (see {log})")


def run_once(work: Path, p: Project, mode: str, tag: str) -> dict[str, object]:
    out = work / "results" / p.name
    out.mkdir(parents=True, exist_ok=True)
    cwd = p.srcdir(work / "dl") / p.cwd
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKORDER")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # the venv's bin first on PATH, as under tox or nox: suites that start `python`
    venv = work / f"venv-{p.name}"
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", os.defpath)])
    env["VIRTUAL_ENV"] = str(venv)
    env.update(p.env)
    plugin = []
    if p.plugin:
        mod = f"realproj_{p.name.replace('-', '_')}"
        (work / "plugins").mkdir(exist_ok=True)
        (work / "plugins" / f"{mod}.py").write_text(p.plugin)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(work / "plugins"), *filter(None, [env.get("PYTHONPATH")])]
        )
        plugin = ["-p", mod]
    cmd = [
        str(venv / "bin" / "python"),
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-rA",
        f"--junitxml={out / (tag + '.xml')}",
        *plugin,
        *p.args,
        *MODES[mode],
    ]
    if mode == "record":
        cmd.append(f"--lockorder-report=json:{out / 'report.json'}")
    print(f"[{p.name}] {tag}: {' '.join(cmd[1:])}", flush=True)
    server = start_server(p, out / f"{tag}-server.log") if p.server else None
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(out / f"{tag}.log", "w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            rc = proc.wait(TIMEOUT)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
            timed_out = True
    wall = time.perf_counter() - start
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if server is not None:
        server.terminate()
        server.wait(30)
    # user + system CPU seconds of the pytest process (and the children it waited for)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    print(
        f"[{p.name}] {tag}: exit {rc}, {wall:.1f} s wall, {cpu:.1f} s CPU"
        f"{' (TIMEOUT)' if timed_out else ''}",
        flush=True,
    )
    rec = {
        "tag": tag,
        "mode": mode,
        "rc": rc,
        "wall": wall,
        "cpu": cpu,
        "timed_out": timed_out,
        "cmd": cmd,
    }
    with open(out / "walls.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")
    return rec


def outcomes(xml: Path) -> dict[str, str]:
    """Test id -> passed / failed / error / skipped (worst outcome of its entries)."""
    rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
    res: dict[str, str] = {}
    for tc in ET.parse(xml).getroot().iter("testcase"):
        tid = f"{tc.get('classname')}::{tc.get('name')}"
        if tc.find("error") is not None:
            o = "error"
        elif tc.find("failure") is not None:
            o = "failed"
        elif tc.find("skipped") is not None:
            o = "skipped"
        else:
            o = "passed"
        if tid not in res or rank[o] > rank[res[tid]]:
            res[tid] = o
    return res


def counts(res: dict[str, str]) -> str:
    c = {
        k: sum(1 for v in res.values() if v == k) for k in ("passed", "failed", "error", "skipped")
    }
    s = f"{c['passed']}/{c['failed']}/{c['skipped']}"
    return s + (f" +{c['error']}E" if c["error"] else "")


def table(work: Path, names: list[str]) -> None:
    print(
        "| project | tests | plain p/f/s | --lockorder p/f/s | findings (record) "
        "| plain wall s | --lockorder wall s | wall ratio | CPU ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    details = []
    for name in names:
        p = PROJECTS[name]
        out = work / "results" / name
        if not (out / "plain.xml").exists():
            continue
        plain = outcomes(out / "plain.xml")
        # a project whose --lockorder runs are still to come shows "-" there
        raised = outcomes(out / "raise.xml") if (out / "raise.xml").exists() else {}
        walls: dict[str, list[float]] = {}
        cpus: dict[str, list[float]] = {}
        for line in (out / "walls.jsonl").read_text().splitlines():
            r = json.loads(line)
            if r["rc"] < 0 or r["timed_out"]:
                details.append(
                    f"{name}: {r['tag']} killed or timed out after {r['wall']:.0f} s"
                    " (left out of the times)"
                )
                continue
            walls.setdefault(r["mode"], []).append(r["wall"])
            if "cpu" in r:
                cpus.setdefault(r["mode"], []).append(r["cpu"])
        kinds: dict[str, int] = {}
        if (out / "report.json").exists():
            rep = json.loads((out / "report.json").read_text())
            for f in rep["findings"]:
                k = f"{f['kind']} ({f['severity']})"
                kinds[k] = kinds.get(k, 0) + 1
                details.append(
                    f"{name}: {f['kind']} {f['severity']} [{f.get('test')}] {f['message']}"
                )
            details.append(
                f"{name}: graph {rep['summary']['classes']} classes, "
                f"{rep['summary']['edges']} edges"
            )
        fk = ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())) or "none"
        if not (out / "report.json").exists():
            fk = "-"  # no record run yet
        wp = statistics.median(walls["plain"]) if walls.get("plain") else None
        wr = statistics.median(walls["raise"]) if walls.get("raise") else None
        cr = (
            f"{statistics.median(cpus['raise']) / statistics.median(cpus['plain']):.2f}"
            if cpus.get("plain") and cpus.get("raise")
            else "-"
        )
        print(
            f"| {p.dist} {p.version} | {len(plain)} | {counts(plain)} "
            f"| {counts(raised) if raised else '-'} | {fk} "
            f"| {f'{wp:.1f}' if wp else '-'} | {f'{wr:.1f}' if wr else '-'} "
            f"| {f'{wr / wp:.2f}' if wp and wr else '-'} | {cr} |"
        )
        if raised:
            for tid in sorted(set(plain) | set(raised)):
                a, b = plain.get(tid, "missing"), raised.get(tid, "missing")
                if a != b:
                    details.append(f"{name}: DIFFERENCE {tid}: plain {a}, --lockorder {b}")
        for mode in MODES:
            details.append(
                f"{name}: {mode} wall {[round(w, 1) for w in walls.get(mode, [])]}"
                f" CPU {[round(c, 1) for c in cpus.get(mode, [])]}"
            )
    print()
    print("\n".join(details))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("command", choices=["setup", "run", "time", "table"])
    ap.add_argument("names", nargs="*", help=f"default: all of {', '.join(PROJECTS)}")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/realproj"))
    ap.add_argument(
        "--lockorder",
        type=Path,
        default=REPO,
        help="the lockorder checkout `setup` installs (editable); default: this repository",
    )
    ap.add_argument("--repeat", type=int, default=2, help="plain/raise pairs for `time`")
    ap.add_argument("--modes", default="plain,raise,record", help="the runs `run` makes")
    a = ap.parse_intermixed_args()  # options may come after the command or the names
    if not set(a.modes.split(",")) <= set(MODES):
        ap.error(f"--modes: choose from {', '.join(MODES)}")
    names = a.names or list(PROJECTS)
    for n in names:
        if n not in PROJECTS:
            ap.error(f"unknown project {n!r}")
    if a.workdir.resolve().is_relative_to(REPO):
        ap.error("the work directory must lie outside the repository")
    if a.command == "table":
        table(a.workdir, names)
        return
    # a shell without job control starts background commands with SIGINT ignored, and
    # the suites' children would inherit that (paho-mqtt, watchdog stop theirs with it)
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for n in names:
        p = PROJECTS[n]
        if a.command == "setup":
            setup(a.workdir, p, a.lockorder.resolve())
        elif a.command == "run":
            for mode in a.modes.split(","):
                run_once(a.workdir, p, mode, mode)
        else:
            for i in range(a.repeat):
                run_once(a.workdir, p, "plain", f"plain-t{i}")
                run_once(a.workdir, p, "raise", f"raise-t{i}")


if __name__ == "__main__":
    main()
