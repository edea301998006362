"""Two threads take two locks in opposite orders, but the second starts only
after the first has ended (start, join, start, join): no deadlock is possible.
Not confirmable (stall)."""

import threading

a = threading.Lock()
b = threading.Lock()


def forward():
    with a:
        with b:
            pass


def backward():
    with b:
        with a:
            pass


for target in (forward, backward):
    thread = threading.Thread(target=target, name=target.__name__)
    thread.start()
    thread.join()
