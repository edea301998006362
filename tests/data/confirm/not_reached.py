"""The second order happens only in the first run (a marker file says the
program ran before): a rerun never makes that edge. Not reached."""

import os
import sys
import threading

a = threading.Lock()
b = threading.Lock()
marker = sys.argv[1]


def forward():
    with a:
        with b:
            pass


def backward():
    if os.path.exists(marker):
        return
    with open(marker, "w") as handle:
        handle.write("ran")
    with b:
        with a:
            pass


for target in (forward, backward):
    thread = threading.Thread(target=target, name=target.__name__)
    thread.start()
    thread.join()
