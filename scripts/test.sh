#!/usr/bin/env bash
# Sets up (scripts/setup.sh test) and runs every check: ruff, mypy, then the whole pytest suite.
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
