"""Recipe 10: an actor: a thread with a mailbox, stopped by ``ActorExit``.

An actor owns a thread and a queue (its mailbox). Other threads only ``send()``
it messages; the actor handles them one at a time in its own thread, so its state
needs no lock. ``close()`` posts the ``ActorExit`` class itself as a message:
when the actor's ``recv()`` gets it, it raises ``ActorExit``, which unwinds
``run()`` and ends the thread; ``join()`` waits for that.

(The classic version creates the "terminated" event in ``start()``, so a
``join()`` before ``start()`` fails with ``AttributeError``; here it is made in
``__init__``, and every wait has a timeout.)

Run it: ``python docs/recipes/actor.py``.
"""

from __future__ import annotations

import queue
import threading

__all__ = ["Actor", "ActorExit", "CollectingActor", "main"]

#: every wait of this example is bounded by this many seconds
TIMEOUT = 5.0


class ActorExit(Exception):
    """Raised by :meth:`Actor.recv` when the actor was closed."""


class Actor:
    """A thread that handles the messages sent to it, in order; override :meth:`run`."""

    def __init__(self) -> None:
        self._mailbox: queue.Queue[object] = queue.Queue()
        self._terminated = threading.Event()

    def send(self, msg: object) -> None:
        """Post ``msg`` to the actor."""
        self._mailbox.put(msg)

    def recv(self, timeout: float = TIMEOUT) -> object:
        """The next message (in the actor's thread).

        Raises:
            ActorExit: the actor was closed.
            queue.Empty: no message within ``timeout`` seconds.
        """
        msg = self._mailbox.get(timeout=timeout)
        if msg is ActorExit:
            raise ActorExit()
        return msg

    def close(self) -> None:
        """Ask the actor to stop once it has handled the messages sent before."""
        self.send(ActorExit)

    def start(self) -> None:
        """Start the actor's thread."""
        thread = threading.Thread(target=self._bootstrap, name=type(self).__name__, daemon=True)
        thread.start()

    def _bootstrap(self) -> None:
        try:
            self.run()
        except ActorExit:
            pass
        finally:
            self._terminated.set()

    def join(self, timeout: float = TIMEOUT) -> None:
        """Wait for the actor's thread to end.

        Raises:
            TimeoutError: it did not end within ``timeout`` seconds.
        """
        if not self._terminated.wait(timeout):
            raise TimeoutError(f"the actor did not stop within {timeout} s")

    def run(self) -> None:
        """Handle messages until closed (this one drops them)."""
        while True:
            self.recv()


class CollectingActor(Actor):
    """Keeps what it receives (only its own thread touches the list)."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[object] = []

    def run(self) -> None:
        while True:
            self.received.append(self.recv())


def main() -> list[object]:
    """Send two messages to an actor, close it and wait for it.

    Returns:
        What the actor received.
    """
    actor = CollectingActor()
    actor.start()
    actor.send("Hello")
    actor.send("World")
    actor.close()
    actor.join()
    if actor.received != ["Hello", "World"]:
        raise RuntimeError(f"unexpected messages {actor.received!r}")
    for msg in actor.received:
        print("Got:", msg)
    return actor.received


if __name__ == "__main__":
    main()
