"""A hand-off: the second thread starts its work only when the first signals it
is done (an untimed Event), so the two orders never overlap. Not confirmable
(stall)."""

import threading

a = threading.Lock()
b = threading.Lock()
handed_over = threading.Event()


def first():
    with a:
        with b:
            pass
    handed_over.set()


def second():
    handed_over.wait()
    with b:
        with a:
            pass


threads = [
    threading.Thread(target=first, name="first"),
    threading.Thread(target=second, name="second"),
]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
