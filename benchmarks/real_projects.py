"""Run real projects' own test suites with and without ``pytest --lockorder``.

Standalone helper behind docs/real-projects.md; never part of the test suite.
Everything happens in a scratch directory (default /tmp/realproj), never in the
repository:

    python benchmarks/real_projects.py setup   [NAME ...]  # sdist, unpack, venv, install
    python benchmarks/real_projects.py run     [NAME ...]  # plain, raise, record runs
    python benchmarks/real_projects.py time    [NAME ...]  # extra plain/raise pairs, timing only
    python benchmarks/real_projects.py table   [NAME ...]  # compare outcomes, count findings

``setup`` downloads each project's sdist from the package index
(``pip download --no-deps --no-binary :all:``), unpacks it, makes one virtual
environment per project (``venv-NAME``) and installs lockorder (editable, from
this checkout), the project (editable) and its test dependencies into it.

``run`` runs the suite from the unpacked sdist three times, one after the other
(never in parallel: the wall times are compared):

- ``plain``: without the plugin;
- ``raise``: ``--lockorder`` (default raise mode);
- ``record``: ``--lockorder --lockorder-mode=record --lockorder-report=json:...``

each with ``-p no:cacheprovider -rA --junitxml=...`` and the project's own extra
arguments (see PROJECTS), bounded by a 600 s timeout. Logs, JUnit XML files,
the JSON report and the times (appended to ``walls.jsonl``: remove the folder for
a fresh start) go to ``WORKDIR/results/NAME/``. ``time`` adds plain/raise pairs.

``table`` reads them back: per-test outcomes of the plain and raise runs (every
test that passes without the plugin and fails with it is listed), the findings
of the record run by kind and severity, and the wall-time ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
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

    @property
    def srcdir(self) -> str:
        return f"{self.dist}-{self.version}"


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


def setup(work: Path, p: Project) -> None:
    dl = work / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    sdist = next(dl.glob(f"{p.dist}-{p.version}.tar.gz"), None)
    if sdist is None:
        sh(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{p.dist}=={p.version}",
                "-d",
                str(dl),
            ]
        )
        sdist = next(dl.glob(f"{p.dist}-{p.version}.tar.gz"))
    if not (dl / p.srcdir).is_dir():
        with tarfile.open(sdist) as tf:
            tf.extractall(dl, filter="data")
    venv = work / f"venv-{p.name}"
    if not venv.is_dir():
        sh([sys.executable, "-m", "venv", str(venv)])
    target = str(dl / p.srcdir) + (f"[{p.extra}]" if p.extra else "")
    sh([str(venv / "bin" / "pip"), "install", "-q", "-e", str(REPO), "-e", target, *p.test_deps])


def run_once(work: Path, p: Project, mode: str, tag: str) -> dict[str, object]:
    out = work / "results" / p.name
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(work / f"venv-{p.name}" / "bin" / "python"),
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-rA",
        f"--junitxml={out / (tag + '.xml')}",
        *p.args,
        *MODES[mode],
    ]
    if mode == "record":
        cmd.append(f"--lockorder-report=json:{out / 'report.json'}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKORDER")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    print(f"[{p.name}] {tag}: {' '.join(cmd[1:])}", flush=True)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(out / f"{tag}.log", "w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=work / "dl" / p.srcdir,
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
        plain, raised = outcomes(out / "plain.xml"), outcomes(out / "raise.xml")
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
        wp, wr = statistics.median(walls["plain"]), statistics.median(walls["raise"])
        cr = (
            f"{statistics.median(cpus['raise']) / statistics.median(cpus['plain']):.2f}"
            if cpus.get("plain") and cpus.get("raise")
            else "-"
        )
        print(
            f"| {p.dist} {p.version} | {len(plain)} | {counts(plain)} | {counts(raised)} "
            f"| {fk} | {wp:.1f} | {wr:.1f} | {wr / wp:.2f} | {cr} |"
        )
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
    ap.add_argument("--repeat", type=int, default=2, help="plain/raise pairs for `time`")
    ap.add_argument("--modes", default="plain,raise,record", help="the runs `run` makes")
    a = ap.parse_args()
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
    for n in names:
        p = PROJECTS[n]
        if a.command == "setup":
            setup(a.workdir, p)
        elif a.command == "run":
            for mode in a.modes.split(","):
                run_once(a.workdir, p, mode, mode)
        else:
            for i in range(a.repeat):
                run_once(a.workdir, p, "plain", f"plain-t{i}")
                run_once(a.workdir, p, "raise", f"raise-t{i}")


if __name__ == "__main__":
    main()
