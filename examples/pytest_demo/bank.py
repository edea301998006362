"""A tiny bank whose transfers lock two accounts: source first, then target."""

from __future__ import annotations

import threading


class Account:
    def __init__(self, owner: str, balance: int) -> None:
        self.owner = owner
        self.balance = balance
        self.lock = threading.Lock()


def transfer(source: Account, target: Account, amount: int) -> None:
    with source.lock, target.lock:
        source.balance -= amount
        target.balance += amount


AUDIT_LOCK = threading.Lock()
LEDGER_LOCK = threading.Lock()
ledger: list[str] = []


def audit(account: Account) -> int:
    """Reads the ledger under the audit lock, then the account."""
    with AUDIT_LOCK, LEDGER_LOCK:
        return len(ledger) + account.balance


def record(line: str) -> None:
    """Writes the ledger, then the audit trail: the opposite order."""
    with LEDGER_LOCK:
        ledger.append(line)
        with AUDIT_LOCK:
            pass
