"""Two threads take two locks in opposite orders; the auditor waits (a little)
for the payment first, so a plain run never deadlocks. Confirmable."""

import threading

accounts = threading.Lock()
audit_log = threading.Lock()
paid = threading.Event()


def pay():
    with accounts:
        with audit_log:
            pass
    paid.set()


def review():
    paid.wait(timeout=0.5)  # after the payment, in every plain run
    with audit_log:
        with accounts:
            pass


threads = [
    threading.Thread(target=pay, name="payments"),
    threading.Thread(target=review, name="auditor"),
]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
