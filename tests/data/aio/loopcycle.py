import asyncio
import threading

config_lock = threading.Lock()
ready = threading.Event()
done = threading.Event()


async def reload_config():
    with config_lock:  # code on the loop takes the lock
        pass


async def handler():
    await reload_config()


def worker(loop):
    ready.wait(10)
    with config_lock:
        # waits for the loop while holding the lock a coroutine of it takes
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(10)
    done.set()


async def main():
    loop = asyncio.get_running_loop()
    thread = threading.Thread(target=worker, args=(loop,), name="worker")
    thread.start()
    await handler()
    ready.set()
    while not done.is_set():
        await asyncio.sleep(0.01)
    thread.join()


asyncio.run(main())
