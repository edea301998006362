"""Green tests that hide two deadlocks: run them with `pytest --lockorder`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from bank import Account, audit, record, transfer


def in_thread(target: Callable[..., Any], *args: Any) -> None:
    thread = threading.Thread(target=target, args=args)
    thread.start()
    thread.join(3)


def test_pay_rent() -> None:
    checking, landlord = Account("checking", 100), Account("landlord", 0)
    in_thread(transfer, checking, landlord, 30)
    in_thread(transfer, landlord, checking, 5)  # a refund: the other order
    assert checking.balance == 75


def test_audit() -> None:
    in_thread(audit, Account("savings", 10))
    assert audit(Account("savings", 10)) == 10


def test_record() -> None:
    in_thread(record, "paid rent")
    assert record("refund") is None
