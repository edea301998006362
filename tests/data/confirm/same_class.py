"""transfer(a, b) against transfer(b, a): two locks of one class (Account.lock)
taken in both orders. The refund waits (a little) for the payment. Confirmable."""

import threading


class Account:
    def __init__(self, balance):
        self.balance = balance
        self.lock = threading.Lock()


def transfer(source, target, amount):
    with source.lock:
        with target.lock:
            source.balance -= amount
            target.balance += amount


checking, landlord = Account(100), Account(0)
paid = threading.Event()


def pay_rent():
    transfer(checking, landlord, 50)
    paid.set()


def refund():
    paid.wait(timeout=0.5)
    transfer(landlord, checking, 10)


threads = [
    threading.Thread(target=pay_rent, name="rent"),
    threading.Thread(target=refund, name="refund"),
]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
