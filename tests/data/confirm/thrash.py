"""The main thread takes lock a once the payments thread has it, so it waits for
the payments to finish, and starts the auditor only then: the two orders never
overlap. Not confirmable (the pause thrashes: main waits for the paused thread's
lock; then a stall)."""

import threading

a = threading.Lock()
b = threading.Lock()
took_a = threading.Event()


def payments():
    with a:
        took_a.set()
        with b:
            pass


def auditor():
    with b:
        with a:
            pass


first = threading.Thread(target=payments, name="payments")
first.start()
took_a.wait(timeout=10)
with a:  # waits for the payments to finish with a (and b)
    pass
second = threading.Thread(target=auditor, name="auditor")
second.start()
first.join()
second.join()
