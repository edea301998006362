"""``python -m lockorder``: the lockorder command."""

import sys

from lockorder.cli import main

if __name__ == "__main__":
    sys.exit(main())
