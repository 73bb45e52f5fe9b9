#!/usr/bin/env bash
# Runs a command with the clock faked (libfaketime) to noon of the 5th of next month in a time
# zone far from UTC: `ls -l` pads days 1-9, and the server's time zone differs from ours.
#   scripts/faked_date.sh .venv/bin/python -m pytest tests/unit
# Every process shares one offset from the real clock (relative mode), so the mount, the emulator
# and the tests agree on the time. NO_FAKE_STAT keeps file times real: rsync and stat compare them.
set -euo pipefail
target=$(date -u -d "$(date -u +%Y-%m-01) +1 month +4 days 12:00" +%s)
offset=$((target - $(date -u +%s)))
export NO_FAKE_STAT=1 TZ=Pacific/Kiritimati
exec faketime -f "+${offset}" "$@"
