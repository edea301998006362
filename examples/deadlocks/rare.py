"""A deadlock a plain run almost never hits: the auditor waits for the payment to
be posted (for up to half a second) before it reads the ledger, so in every
plain run the two critical sections follow each other. They take the two locks
in opposite orders all the same: when posting is slow, they deadlock.

    python -m lockorder run examples/deadlocks/rare.py            # potential
    python -m lockorder run --confirm examples/deadlocks/rare.py  # confirmed
"""

import threading

ledger = threading.Lock()
audit_log = threading.Lock()
posted = threading.Event()


def post_payment() -> None:
    with ledger:
        with audit_log:  # the entry, logged as it is written
            pass
    posted.set()


def audit() -> None:
    posted.wait(timeout=0.5)  # give the payment time to post: usually enough
    with audit_log:
        with ledger:  # the ledger, read while the log is held
            pass


threads = [
    threading.Thread(target=post_payment, name="payments"),
    threading.Thread(target=audit, name="auditor"),
]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
