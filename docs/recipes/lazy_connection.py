"""Recipe 7: a thread-local lazy connection.

One :class:`LazyConnection` object is shared by several threads, yet each thread
gets its own socket: the socket lives in a ``threading.local()``, whose
attributes every thread sees separately. The connection is opened on entry to
``with conn as sock:`` and closed on exit.

The server is a small HTTP server this example starts on 127.0.0.1 (port 0: the
system picks a free port) and shuts down at the end; nothing leaves the machine.

(The classic version of this recipe stores ``AF_INET`` and ``SOCK_STREAM``
whatever ``family`` and ``type`` it was given; this one keeps them.)

Run it: ``python docs/recipes/lazy_connection.py``.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

__all__ = ["LazyConnection", "fetch", "main", "serving"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0

BODY = b"<html><body>lazy connection recipe</body></html>\n"


class LazyConnection:
    """A connection to ``address`` per thread, made on entry to ``with``.

    Args:
        address: ``(host, port)`` to connect to.
        family: the socket family.
        type: the socket type.
        timeout: the socket timeout, in seconds.
    """

    def __init__(
        self,
        address: tuple[str, int],
        family: socket.AddressFamily = socket.AF_INET,
        type: socket.SocketKind = socket.SOCK_STREAM,
        timeout: float = TIMEOUT,
    ) -> None:
        self.address = address
        self.family = family
        self.type = type
        self.timeout = timeout
        self._local = threading.local()

    def __enter__(self) -> socket.socket:
        if getattr(self._local, "sock", None) is not None:
            raise RuntimeError("already connected in this thread")
        sock = socket.socket(self.family, self.type)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.address)
        except BaseException:
            sock.close()
            raise
        self._local.sock = sock
        return sock

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._local.sock.close()
        self._local.sock = None


def fetch(conn: LazyConnection, results: dict[str, tuple[int, bytes]]) -> None:
    """GET /index.html over this thread's connection; store (local port, response)."""
    with conn as sock:
        sock.sendall(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n")
        chunks = []
        while chunk := sock.recv(8192):
            chunks.append(chunk)
        port = sock.getsockname()[1]
    results[threading.current_thread().name] = (port, b"".join(chunks))


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the example's output short


class _Server(http.server.ThreadingHTTPServer):
    # join the request threads on server_close(), so none outlives the example
    daemon_threads = False
    block_on_close = True


@contextmanager
def serving() -> Iterator[tuple[str, int]]:
    """Run the HTTP server on 127.0.0.1 in a thread; yield its address."""
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="http-server"
    )
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield str(host), int(port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


def main() -> dict[str, bytes]:
    """Two threads fetch a page through one shared LazyConnection.

    Returns:
        Each thread's response body, by thread name.

    Raises:
        RuntimeError: a thread did not finish, a body was wrong, or the threads
            shared a socket.
    """
    results: dict[str, tuple[int, bytes]] = {}
    with serving() as address:
        conn = LazyConnection(address)
        threads = [
            threading.Thread(target=fetch, args=(conn, results), name=f"client-{n}") for n in (1, 2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
            if thread.is_alive():
                raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
    bodies = {name: response.partition(b"\r\n\r\n")[2] for name, (_, response) in results.items()}
    ports = {port for port, _ in results.values()}
    if bodies != {"client-1": BODY, "client-2": BODY} or len(ports) != 2:
        raise RuntimeError(f"unexpected results {results!r}")
    for name, (port, response) in sorted(results.items()):
        print(f"{name}: got {len(response)} bytes on its own socket (local port {port})")
    return bodies


if __name__ == "__main__":
    main()
