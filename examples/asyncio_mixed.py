"""A service keeps its metrics under a threading lock (a worker thread reads
them too) and its connection under an asyncio lock. The request handler
records a metric while it holds the connection; the metrics report reads the
connection's state while it holds the metrics. Run one after the other, this
never hangs; run at the same time, the report waits for the connection while
holding the metrics, and the handler blocks the loop's thread on the metrics
lock: the whole loop stops.

    python -m lockorder run examples/asyncio_mixed.py
"""

import asyncio
import threading


class Service:
    def __init__(self) -> None:
        self.metrics_lock = threading.Lock()
        self.requests = 0
        self.connection_lock = asyncio.Lock()
        self.connected = True

    async def handle(self) -> None:
        async with self.connection_lock:
            with self.metrics_lock:
                self.requests += 1

    async def report(self) -> str:
        with self.metrics_lock:
            async with self.connection_lock:
                return f"requests={self.requests} connected={self.connected}"


async def main() -> None:
    service = Service()
    await asyncio.create_task(service.handle(), name="request")
    print(await asyncio.create_task(service.report(), name="report"))


asyncio.run(main())
