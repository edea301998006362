"""A hang that is no lock cycle: a thread holds a lock while it waits for an
event nobody sets, another waits for the lock. lockorder.dump() shows who holds
and who waits (here printed after a moment; `kill -USR1` does the same under
`lockorder run`)."""

import threading
import time

import lockorder

lockorder.configure(deadlock_check=0)  # no cycle to find: just wedged
cache_lock = threading.Lock()
never = threading.Event()


def refresher() -> None:
    with cache_lock:
        never.wait(1.0)  # "forever", bounded here so the example ends


def reader() -> None:
    with cache_lock:
        pass


threads = [threading.Thread(target=refresher, name="refresher")]
threads[0].start()
time.sleep(0.1)
threads.append(threading.Thread(target=reader, name="reader"))
threads[1].start()
time.sleep(0.2)
lockorder.dump()
never.set()
for thread in threads:
    thread.join()
