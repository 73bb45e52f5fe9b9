"""`python -m vipfs` is the same as the `vipfs` command."""

import sys

from vipfs.cli import main

sys.exit(main())
