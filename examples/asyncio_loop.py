"""A thread waits for the event loop while holding a lock that code on the loop
takes. In this run the two never overlap, so nothing hangs; when they do, the
loop's thread blocks on the lock and the coroutine the thread waits for never
runs (docs/asyncio.md, "The event loop as a lock").

    python -m lockorder run examples/asyncio_loop.py
"""

import asyncio
import threading

config_lock = threading.Lock()
ready = threading.Event()
done = threading.Event()


async def reload_config() -> None:
    with config_lock:  # code on the loop takes the lock
        pass


def refresh_from_thread(loop: asyncio.AbstractEventLoop) -> None:
    ready.wait(10)
    with config_lock:
        # waits for the loop while holding the lock a coroutine of it takes
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(10)
    done.set()


async def main() -> None:
    loop = asyncio.get_running_loop()
    thread = threading.Thread(target=refresh_from_thread, args=(loop,), name="refresher")
    thread.start()
    await reload_config()
    ready.set()
    await loop.run_in_executor(None, done.wait, 10)
    await loop.run_in_executor(None, thread.join)


asyncio.run(main())
