#!/usr/bin/env bash
# Sets up vipfs (scripts/setup.sh) and runs `vipfs demo`: an emulated account with sample
# content, mounted at ./vipfs-demo (or the path given). Ctrl-C unmounts and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/vipfs demo "$@"
