"""A small threaded WSGI shop with a planted lock-order inversion.

Two module-level locks guard the stock and the ledger. ``/order`` takes the
stock, then the ledger; ``/restock`` takes the ledger, then the stock. Two
request threads in those handlers at once can each hold one lock and wait for
the other: a deadlock that load testing rarely hits. lockorder finds it from
one request to each handler, whichever worker served them
(docs/production.md, "A pre-fork server"). The app knows nothing of lockorder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

PRICES = {"apple": 40, "pear": 55, "plum": 25}  # in cents

stock_lock = threading.Lock()
ledger_lock = threading.Lock()
stock = dict.fromkeys(PRICES, 1000)
ledger: list[tuple[str, str, int]] = []


def order(item: str, quantity: int) -> str:
    total = PRICES[item] * quantity
    with stock_lock:
        stock[item] -= quantity
        with ledger_lock:  # stock -> ledger
            ledger.append(("order", item, quantity))
    return f"ordered {quantity} {item}: {total // 100}.{total % 100:02d}\n"


def restock(item: str, quantity: int) -> str:
    with ledger_lock:
        ledger.append(("restock", item, quantity))
        with stock_lock:  # ledger -> stock: the other order
            stock[item] += quantity
    return f"restocked {quantity} {item}\n"


HANDLERS: dict[str, Callable[[str, int], str]] = {"/order": order, "/restock": restock}


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        return _respond(start_response, "200 OK", "ok\n")
    handler = HANDLERS.get(path)
    if handler is None:
        return _respond(start_response, "404 Not Found", f"no page {path}\n")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    item = query.get("item", ["apple"])[0]
    try:
        quantity = int(query.get("quantity", ["1"])[0])
    except ValueError:
        return _respond(start_response, "400 Bad Request", "quantity: not a number\n")
    if item not in PRICES:
        return _respond(start_response, "400 Bad Request", f"no item {item}\n")
    return _respond(start_response, "200 OK", handler(item, quantity))


def _respond(start_response: Callable[..., Any], status: str, text: str) -> list[bytes]:
    body = text.encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]
