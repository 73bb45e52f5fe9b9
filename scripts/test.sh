#!/usr/bin/env bash
# Sets up (scripts/setup.sh test) and runs every check: ruff, mypy, the whole pytest suite, then
# its date-sensitive part again with the date faked.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
echo "test: ruff"
.venv/bin/ruff check vipfs tests scripts
.venv/bin/ruff format --check --quiet vipfs tests scripts
echo "test: mypy"
.venv/bin/mypy
echo "test: pytest"
.venv/bin/python -m pytest "$@"
if [ $# -eq 0 ]; then
  # Dates are where tests went red before (ls -l pads days 1-9): the date-sensitive part again,
  # on the 5th of next month in a time zone 14 hours from UTC.
  echo "test: pytest with the date faked (scripts/faked_date.sh)"
  scripts/faked_date.sh .venv/bin/python -m pytest -q tests/integration/test_semantics_doc.py \
    tests/integration/test_trust_replies.py tests/unit/api tests/unit/vfs
fi
