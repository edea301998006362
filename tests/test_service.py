"""A real pre-fork server (issue 27, item 5; docs/production.md, "A pre-fork
server"): examples/service/app.py, a threaded WSGI app whose ``/order`` and
``/restock`` handlers take two module-level locks in opposite orders, served by
gunicorn with two gthread workers, checked without a change to the app:
``python -m lockorder run --mode warn --fail-on never -m gunicorn ...`` (or
gunicorn's config file examples/service/lockorder_gunicorn.py) installs
lockorder in the master, the forked workers inherit it, and
``LOCKORDER_REPORT=.../lockorder-{pid}.json`` has each process write its own
report. The server is stopped with SIGTERM as a supervisor stops it: gunicorn's
workers handle SIGTERM themselves and leave by ``sys.exit``, so their reports are
written at exit. The merge of every process's report finds the inversion, with
both handlers' stacks, whichever worker served which request.

Every step is bounded: the server's start (polled against a deadline), each
request, the stop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gunicorn", reason="gunicorn is in the test extra (POSIX only)")
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="gunicorn forks its workers")

SERVICE = Path(__file__).resolve().parent.parent / "examples" / "service"
TIMEOUT = 20.0

#: the requests sent, in this order: both handlers, several times each (which
#: worker and which thread serves each is the server's choice)
REQUESTS = [
    path
    for n in range(1, 7)
    for path in (f"/order?item=pear&quantity={n}", f"/restock?item=plum&quantity={10 * n}")
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(port: int, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status, response.read()


#: the test's gunicorn config: each worker says when it is ready; ``{load}``
#: runs the example's config file where the test asks for it
CONFIG = """
import os, runpy
{load}

def post_worker_init(worker):
    open(os.path.join({ready!r}, str(os.getpid())), "w").close()
"""


def serve(tmp_path: Path, checked: str) -> tuple[list[tuple[int, bytes]], str]:
    """Start the example under gunicorn (two workers of two threads), checked as
    ``checked`` says ("" for not at all), wait until both workers are ready, send
    REQUESTS, stop it with SIGTERM; return the responses and gunicorn's log.

    A worker that gets SIGTERM while it boots, before it sets its own handlers,
    runs the master's (which only queues the signal) and is never stopped; so the
    test waits until each worker has run gunicorn's post_worker_init hook, after
    its handlers are set."""
    port = free_port()
    ready = tmp_path / f"{checked or 'plain'}-ready"
    ready.mkdir()
    load = f"runpy.run_path({str(SERVICE / 'lockorder_gunicorn.py')!r})"
    config = tmp_path / f"{checked or 'plain'}-config.py"
    config.write_text(CONFIG.format(load=load if checked == "config" else "", ready=str(ready)))
    gunicorn = ["-m", "gunicorn", "--workers", "2", "--threads", "2", "-c", str(config)]
    gunicorn += ["--bind", f"127.0.0.1:{port}", "--no-control-socket", "app:app"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKORDER")}
    if checked == "run":
        command = [sys.executable, "-m", "lockorder", "run", "--quiet", "--mode", "warn"]
        command += ["--fail-on", "never", "--json", "", *gunicorn]
    else:
        command = [sys.executable, *gunicorn]
    if checked:
        env["LOCKORDER_REPORT"] = str(tmp_path / "reports" / "lockorder-{pid}.json")
    log_path = tmp_path / f"{checked or 'plain'}.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command,
            cwd=SERVICE,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers too can be ended if it hangs
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert server.poll() is None, log_path.read_text()
            try:
                if len(list(ready.iterdir())) == 2 and get(port, "/") == (200, b"ok\n"):
                    break
            except (OSError, urllib.error.URLError):
                pass
            assert time.monotonic() < deadline, "the server did not answer\n" + log_path.read_text()
            time.sleep(0.1)
        responses = [get(port, path) for path in REQUESTS]
        server.send_signal(signal.SIGTERM)
        try:
            status = server.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail("the server did not stop on SIGTERM\n" + log_path.read_text())
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(TIMEOUT)
    text = log_path.read_text()
    assert status == 0, text
    return responses, text


@pytest.mark.parametrize("how", ["run", "config"])
def test_the_merged_reports_of_a_pre_fork_servers_workers_find_the_inversion(
    tmp_path: Path, how: str
) -> None:
    """``how`` lockorder gets into the workers: ``lockorder run -m gunicorn``, or
    gunicorn's config file lockorder_gunicorn.py (run by the test's)."""
    plain, _ = serve(tmp_path, "")
    checked, log = serve(tmp_path, how)
    # the app computes the same with lockorder as without
    assert checked == plain
    assert plain[:2] == [(200, b"ordered 1 pear: 0.55\n"), (200, b"restocked 10 plum\n")]

    # the master and each worker wrote their own report, the workers when
    # gunicorn stopped them
    master = re.search(r"Listening at: \S+ \((\d+)\)", log)
    workers = re.findall(r"Booting worker with pid: (\d+)", log)
    assert master is not None and len(workers) == 2, log
    reports = tmp_path / "reports"
    expected = {f"lockorder-{pid}.json" for pid in (master.group(1), *workers)}
    assert {p.name for p in reports.iterdir()} == expected, log

    merged = tmp_path / "all.json"
    files = sorted(str(p) for p in reports.iterdir())
    result = subprocess.run(
        [sys.executable, "-m", "lockorder", "merge", "-o", str(merged), *files],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("lockorder merge: 3 reports, "), result.stderr

    data: dict[str, Any] = json.loads(merged.read_text())
    # the locks by their keys (where they were made), whatever folder a label
    # is relative to
    stock, ledger = (f"{SERVICE / 'app.py'}:{line}" for line in (20, 21))
    inversions = [
        f
        for f in data["findings"]
        if f["kind"] == "potential-deadlock"
        and {lock["key"] for lock in f["locks"]} == {stock, ledger}
    ]
    assert len(inversions) == 1, json.dumps(data["findings"], indent=1)
    (finding,) = inversions
    # each edge with the stack of the handler that made it: /order's
    # stock -> ledger, /restock's ledger -> stock
    made_by = {
        (edge["from"]["key"], edge["to"]["key"]): [frame[2] for frame in edge["stack"]]
        for edge in finding["cycle"]
    }
    assert made_by.keys() == {(stock, ledger), (ledger, stock)}
    assert made_by[stock, ledger][-2:] == ["app", "order"]
    assert made_by[ledger, stock][-2:] == ["app", "restock"]
