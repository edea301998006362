"""A gunicorn config file that checks the server's locks: ``gunicorn -c
lockorder_gunicorn.py app:app`` (or these lines at the top of the server's own
config file). gunicorn reads it in the master before it forks a worker or
imports the app, so every worker's locks are checked (docs/production.md, "A
pre-fork server"). Not named gunicorn.conf.py, which gunicorn would read from
this folder by default, even for the unchecked server.
"""

import lockorder

lockorder.configure(mode="warn")  # never raise a finding into request code
lockorder.install()
