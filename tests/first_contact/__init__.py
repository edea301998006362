"""The newcomer's path, end to end, in subprocesses (issue "First contact").

What a new user runs first, before any finding: installing, ``pytest --help`` in a
project that never asked for lockorder, the README's commands, the off-switch
(``LOCKORDER=0``) with every documented call, each kind of output target, an
interrupted session, the baseline refresh loop and confirm's verdicts. Each
module covers one stretch of that path; every test fails without the fix it
guards.
"""
