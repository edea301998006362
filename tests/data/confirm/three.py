"""A three-lock cycle over three threads, each waiting (a little) for the one
before it to finish. Confirmable."""

import threading

a = threading.Lock()
b = threading.Lock()
c = threading.Lock()
done = [threading.Event() for _ in range(3)]


def work(index, first, second):
    if index:
        done[index - 1].wait(timeout=0.5)
    with first:
        with second:
            pass
    done[index].set()


threads = [
    threading.Thread(target=work, args=(0, a, b), name="ab"),
    threading.Thread(target=work, args=(1, b, c), name="bc"),
    threading.Thread(target=work, args=(2, c, a), name="ca"),
]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
