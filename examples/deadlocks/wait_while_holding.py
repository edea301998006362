"""A thread waits for an event while holding a lock; who sets the event is unknown."""

import threading

state_lock = threading.Lock()
ready = threading.Event()


def starter() -> None:
    ready.set()


with state_lock:
    threading.Thread(target=starter, name="starter").start()
    ready.wait()  # fine here, a deadlock if starter ever needs state_lock
print("ready")
