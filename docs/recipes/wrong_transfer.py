"""Wrong: a transfer between two accounts, taken in both orders.

``transfer(source, target)`` locks the source account, then the target. Alice
pays Bob in one thread while Bob pays Alice in another: the first holds Alice's
lock and waits for Bob's, the second holds Bob's and waits for Alice's. Here the
two payments run one after the other, so the program never hangs.

Both locks were made by the same line (``Account.__init__``), so they are one
lock class; lockorder checks the nesting of two locks of one class per instance
and reports "two locks of one class taken in both orders", naming the instances.

The fix: take both locks in one global order,
``with lockorder.acquire(source.lock, target.lock):`` (recipe 6), or order the
accounts by a key of their own (an account number) and lock the smaller first.
"""

from __future__ import annotations

import threading

__all__ = ["Account", "main", "transfer"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0


class Account:
    """A balance and the lock that guards it."""

    def __init__(self, owner: str, balance: int) -> None:
        self.owner = owner
        self.balance = balance
        self.lock = threading.Lock()


def transfer(source: Account, target: Account, amount: int) -> None:
    """Move ``amount`` from ``source`` to ``target``: locks the source first (wrong)."""
    with source.lock:
        with target.lock:
            source.balance -= amount
            target.balance += amount


def main() -> dict[str, int]:
    """Alice pays Bob 30, then Bob pays Alice 10, each in a thread of its own.

    Returns:
        The balances, by owner.
    """
    alice, bob = Account("alice", 100), Account("bob", 100)
    payments = [(alice, bob, 30), (bob, alice, 10)]
    for source, target, amount in payments:
        thread = threading.Thread(
            target=transfer, args=(source, target, amount), name=f"{source.owner}-pays"
        )
        thread.start()  # one after the other: this run cannot hang
        thread.join(TIMEOUT)
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not finish within {TIMEOUT} s")
    balances = {"alice": alice.balance, "bob": bob.balance}
    if balances != {"alice": 80, "bob": 120}:
        raise RuntimeError(f"unexpected balances {balances!r}")
    print(balances)
    return balances


if __name__ == "__main__":
    main()
