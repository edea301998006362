"""A hang that is no lock cycle: a thread holds a lock while it waits for an
event nobody sets, another waits for the lock. lockorder.dump() shows who holds
and who waits (here printed once the reader waits; `kill -USR1` does the same under
`lockorder run`)."""

import threading
import time

import lockorder

lockorder.configure(deadlock_check=0)  # no cycle to find: just wedged
cache_lock = threading.Lock()
never = threading.Event()


def refresher() -> None:
    with cache_lock:
        never.wait(10)  # "forever", bounded here so the example ends


def reader() -> None:
    with cache_lock:
        pass


threads = [threading.Thread(target=refresher, name="refresher")]
threads[0].start()
while not cache_lock.locked():  # until the refresher holds it
    time.sleep(0.01)
threads.append(threading.Thread(target=reader, name="reader"))
threads[1].start()
while "waits for" not in lockorder.dump(file=False):  # until the reader waits for it
    time.sleep(0.01)
lockorder.dump()
never.set()
for thread in threads:
    thread.join()
