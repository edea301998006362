"""A Condition's lock against a queue's mutex: the producer puts while holding
the Condition; the cleaner empties the queue under its mutex, then notifies
under the Condition. The cleaner waits (a little) for the producer. Confirmable."""

import queue
import threading

ready = threading.Condition()
jobs = queue.Queue()
produced = threading.Event()


def produce():
    with ready:
        jobs.put("job")
        ready.notify_all()
    produced.set()


def clean():
    produced.wait(timeout=0.5)
    with jobs.mutex:
        jobs.queue.clear()
        with ready:
            ready.notify_all()


threads = [
    threading.Thread(target=produce, name="producer"),
    threading.Thread(target=clean, name="cleaner"),
]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
