"""Bounded concurrency with asyncio semaphores: two correct limiters and a bug.

The crawler's dispatcher takes a permit for each page it starts, and each page's
task gives it back. The prefetch starts a task per connection it wants and keeps
those that came within a deadline. Neither is a finding. The report handler
holds a database connection and, through gather(), waits for a second one: once
every connection is held by a handler doing the same, all wait for ever
(asyncpg's nested pool.acquire()).

    python -m lockorder run examples/asyncio_limits.py
"""

import asyncio

permits = asyncio.Semaphore(2)
connections = asyncio.Semaphore(3)


async def fetch(page: int, fetched: list[int]) -> None:
    try:
        await asyncio.sleep(0)
        fetched.append(page)
    finally:
        permits.release()  # the permit the dispatcher took for this page


async def crawl(pages: int) -> list[int]:
    fetched: list[int] = []
    tasks = []
    for page in range(pages):
        await permits.acquire()  # one permit per page started
        tasks.append(asyncio.create_task(fetch(page, fetched)))
    await asyncio.gather(*tasks)
    return fetched


async def prefetch(wanted: int) -> int:
    waiters = [asyncio.ensure_future(connections.acquire()) for _ in range(wanted)]
    done, pending = await asyncio.wait(waiters, timeout=0.1)
    for waiter in pending:
        waiter.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for _ in done:
        connections.release()
    return len(done)


async def report() -> None:
    async with connections:
        await asyncio.gather(connections.acquire())  # a second connection
        connections.release()


async def main() -> None:
    fetched = await crawl(5)
    ready = await prefetch(5)
    await report()
    print(f"fetched={len(fetched)} prefetched={ready}")


asyncio.run(main())
