import asyncio


def sync_bridge(loop):
    # called from a coroutine on the loop's own thread: waits for the loop
    return asyncio.run_coroutine_threadsafe(asyncio.sleep(0, "value"), loop).result()


async def main():
    loop = asyncio.get_running_loop()
    try:
        print(sync_bridge(loop))
    except Exception as exc:
        print("bridge:", type(exc).__name__)


asyncio.run(main())
