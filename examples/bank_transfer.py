"""Two tellers move money between the same two accounts in opposite directions.

Each transfer locks the source account, then the destination. The tellers run
one after the other, so this program never hangs, and a normal test run is
green. But if they ever overlap, teller 1 holds checking and waits for savings
while teller 2 holds savings and waits for checking: a deadlock.

    python -m lockorder run examples/bank_transfer.py

finds it from this one harmless run.
"""

from __future__ import annotations

import threading


class Account:
    def __init__(self, owner: str, balance: int) -> None:
        self.owner = owner
        self.balance = balance
        self.lock = threading.Lock()


def transfer(source: Account, target: Account, amount: int) -> None:
    with source.lock:
        with target.lock:
            source.balance -= amount
            target.balance += amount


def main() -> None:
    checking = Account("checking", 100)
    savings = Account("savings", 100)
    teller_1 = threading.Thread(target=transfer, args=(checking, savings, 30), name="teller-1")
    teller_1.start()
    teller_1.join()
    teller_2 = threading.Thread(target=transfer, args=(savings, checking, 10), name="teller-2")
    teller_2.start()
    teller_2.join()
    print(f"checking={checking.balance} savings={savings.balance}")


if __name__ == "__main__":
    main()
