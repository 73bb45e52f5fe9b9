"""`python -m vipfs` is the same as the `vipfs` command.

Owns: `python -m vipfs`.
Imports: `vipfs.cli` only.
"""

import sys

from vipfs.cli import main

sys.exit(main())
