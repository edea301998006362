"""Two work items of a thread pool take two locks in opposite orders. The second
is submitted once the first is done (or after a second), so a plain run runs
both on one worker: a one-thread warning. Confirmable: paused, the first worker
is busy, the pool starts a second one for the second item."""

import threading
from concurrent.futures import ThreadPoolExecutor

cache = threading.Lock()
index = threading.Lock()
first_done = threading.Event()


def refresh():
    with cache:
        with index:
            pass
    first_done.set()


def rebuild():
    with index:
        with cache:
            pass


with ThreadPoolExecutor(max_workers=4) as pool:
    first = pool.submit(refresh)
    first_done.wait(timeout=1.0)
    second = pool.submit(rebuild)
    for future in (first, second):
        try:
            future.result()
        except Exception as exc:  # the confirming rerun breaks the deadlock here
            print(f"work item failed: {exc.__class__.__name__}")
