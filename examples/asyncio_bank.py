"""Two tasks move money between two accounts, each locking the source account,
then the target. They run one after the other, so this never hangs, but
together they take the two accounts' locks in both orders: run at the same
time, they can deadlock.

    python -m lockorder run examples/asyncio_bank.py
"""

import asyncio


class Account:
    def __init__(self, owner: str, balance: int) -> None:
        self.owner = owner
        self.balance = balance
        self.lock = asyncio.Lock()


async def transfer(source: Account, target: Account, amount: int) -> None:
    async with source.lock:
        async with target.lock:
            source.balance -= amount
            target.balance += amount


async def main() -> None:
    checking, landlord = Account("checking", 100), Account("landlord", 0)
    await asyncio.create_task(transfer(checking, landlord, 30), name="rent")
    await asyncio.create_task(transfer(landlord, checking, 5), name="refund")
    print(f"checking={checking.balance} landlord={landlord.balance}")


asyncio.run(main())
