"""Two threads take two locks in opposite orders and really deadlock; lockorder breaks it."""

import threading
import time

accounts = threading.Lock()
audit_log = threading.Lock()
both_hold_one = threading.Barrier(2, timeout=10)


def post_payment() -> None:
    with accounts:
        both_hold_one.wait()
        time.sleep(0.1)  # the auditor waits first: payments, the last to wait, is the victim
        with audit_log:
            pass


def run_audit() -> None:
    with audit_log:
        both_hold_one.wait()
        with accounts:
            pass


def guarded(work):  # type: ignore[no-untyped-def]
    def run() -> None:
        try:
            work()
        except Exception as exc:  # the victim's DeadlockError
            print(f"{threading.current_thread().name}: {type(exc).__name__}")

    return run


threads = [
    threading.Thread(target=guarded(post_payment), name="payments"),
    threading.Thread(target=guarded(run_audit), name="auditor"),
]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("no hang")
