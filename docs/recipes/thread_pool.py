"""Recipe 8: a thread-pool echo server, and fetches with ``ThreadPoolExecutor``.

* **Echo server.** An acceptor thread hands each accepted connection to a fixed
  pool of worker threads through a ``queue.Queue``; a worker echoes everything
  the client sends until the client closes its side. A fixed pool bounds the
  number of threads however many clients come. The clients are tasks of a
  ``ThreadPoolExecutor``.
* **Fetches.** ``ThreadPoolExecutor.submit()`` returns a ``Future`` at once;
  ``result()`` blocks until the function has run in a pool thread.

Both servers run on 127.0.0.1 (port 0), serve a bounded number of requests and
are shut down at the end; nothing leaves the machine (the URL opener is built
without proxies, so ``http_proxy`` in the environment cannot send the requests
elsewhere).

Run it: ``python docs/recipes/thread_pool.py``.
"""

from __future__ import annotations

import http.server
import queue
import socket
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

__all__ = ["EchoServer", "echo_client", "fetch_url", "main"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0

PAGES = {
    "/python": b"<html>a page about Python</html>\n",
    "/pypy": b"<html>a page about PyPy</html>\n",
}


# -- the echo server -----------------------------------------------------------------


def _echo_worker(connections: queue.Queue[socket.socket | None]) -> None:
    """Serve connections from the queue until ``None`` comes."""
    while True:
        conn = connections.get(timeout=TIMEOUT)
        if conn is None:
            return
        with conn:
            conn.settimeout(TIMEOUT)
            while data := conn.recv(65536):
                conn.sendall(data)


class EchoServer:
    """Echo on 127.0.0.1: an acceptor thread and ``nworkers`` worker threads.

    Args:
        nworkers: the size of the worker pool.
        max_connections: the acceptor stops after this many connections.
    """

    def __init__(self, nworkers: int, max_connections: int) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(TIMEOUT)
        self._max_connections = max_connections
        self._connections: queue.Queue[socket.socket | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=_echo_worker, args=(self._connections,), name=f"echo-{n}")
            for n in range(nworkers)
        ]
        self._threads.append(threading.Thread(target=self._accept, name="echo-acceptor"))

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _accept(self) -> None:
        try:
            for _ in range(self._max_connections):
                conn, _ = self._listener.accept()
                self._connections.put(conn)
        finally:
            self._listener.close()
            for _ in range(len(self._threads) - 1):
                self._connections.put(None)  # one stop sign per worker

    def join(self) -> None:
        """Wait for the acceptor and the workers to end.

        Raises:
            RuntimeError: a thread did not end within ``TIMEOUT``.
        """
        for thread in self._threads:
            thread.join(TIMEOUT)
            if thread.is_alive():
                raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")


def echo_client(address: tuple[str, int], message: bytes) -> bytes:
    """Send ``message``, close the sending side, return everything echoed back."""
    with socket.create_connection(address, timeout=TIMEOUT) as sock:
        sock.sendall(message)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def echo_demo(nworkers: int = 3, nclients: int = 6) -> list[bytes]:
    """Run the echo server and ``nclients`` clients from a ThreadPoolExecutor."""
    server = EchoServer(nworkers, max_connections=nclients)
    server.start()
    messages = [f"hello {n}".encode() * (n + 1) for n in range(nclients)]
    try:
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="echo-client") as pool:
            echoes = list(
                pool.map(echo_client, [server.address] * nclients, messages, timeout=TIMEOUT)
            )
    finally:
        server.join()
    if echoes != messages:
        raise RuntimeError(f"echoes {echoes!r} differ from the messages {messages!r}")
    return echoes


# -- fetching URLs with a pool ----------------------------------------------------------


class _PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the example's output short


class _PageServer(http.server.ThreadingHTTPServer):
    # join the request threads on server_close(), so none outlives the example
    daemon_threads = False
    block_on_close = True


@contextmanager
def page_server() -> Iterator[str]:
    """Serve PAGES on 127.0.0.1 in a thread; yield the base URL."""
    server = _PageServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="page-server"
    )
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


#: no proxies: the requests go to the local server whatever the environment says
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch_url(url: str) -> bytes:
    """The body of ``url``."""
    with _OPENER.open(url, timeout=TIMEOUT) as response:
        body: bytes = response.read()
    return body


def fetch_demo() -> dict[str, bytes]:
    """Fetch two pages at once from the local server with a ThreadPoolExecutor."""
    with page_server() as base, ThreadPoolExecutor(max_workers=2) as pool:
        futures = {path: pool.submit(fetch_url, base + path) for path in PAGES}
        # result() blocks until the function has run in a pool thread
        bodies = {path: future.result(timeout=TIMEOUT) for path, future in futures.items()}
    if bodies != PAGES:
        raise RuntimeError(f"unexpected pages {bodies!r}")
    return bodies


def main() -> dict[str, object]:
    """Run both halves; return what they got."""
    echoes = echo_demo()
    print(f"echo server: {len(echoes)} clients got their messages back")
    bodies = fetch_demo()
    for path, body in bodies.items():
        print(f"fetched {path}: {body!r}")
    return {"echoes": echoes, "pages": bodies}


if __name__ == "__main__":
    main()
