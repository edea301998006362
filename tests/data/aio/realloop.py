import asyncio
import threading

config_lock = threading.Lock()
holding = threading.Event()


def worker(loop):
    with config_lock:
        holding.set()
        try:
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result()
        except Exception as exc:
            print("worker:", type(exc).__name__)


async def main():
    loop = asyncio.get_running_loop()
    thread = threading.Thread(target=worker, args=(loop,), name="worker")
    thread.start()
    # wait without yielding to the loop, so the worker's coroutine cannot run first
    holding.wait(10)
    try:
        with config_lock:  # blocks the loop's thread: the worker's coroutine never runs
            pass
    except Exception as exc:
        print("loop:", type(exc).__name__)
    await loop.run_in_executor(None, thread.join)


asyncio.run(main())
