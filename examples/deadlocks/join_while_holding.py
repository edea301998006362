"""The main thread joins a worker while holding a lock the worker takes.

This run does not hang (the worker took the lock before main did), but if
main ever takes the lock first, main waits for the worker and the worker
waits for the lock: a deadlock.
"""

import threading

config_lock = threading.Lock()
config: dict[str, str] = {}


def reload_config() -> None:
    with config_lock:
        config["mode"] = "fast"


worker = threading.Thread(target=reload_config, name="reloader")
worker.start()
worker.join()  # the worker is done: no hang this time

with config_lock:
    worker.join()  # ... but joining under the lock it takes is the bug
print(config)
