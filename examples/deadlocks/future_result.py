"""Waiting on a future while holding a lock its work item takes."""

import concurrent.futures
import threading

index_lock = threading.Lock()


def rebuild_index() -> int:
    with index_lock:
        return 42


with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    future = pool.submit(rebuild_index)
    concurrent.futures.wait([future])  # done before we take the lock: no hang
    with index_lock:
        print(future.result())  # the bug: result() under the lock the item takes
