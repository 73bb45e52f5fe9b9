#!/usr/bin/env bash
# Installs what vipfs needs on a Debian machine, then vipfs itself into ./.venv. Idempotent.
#   scripts/setup.sh          runtime only
#   scripts/setup.sh test     with the test extras (pytest, ruff, mypy, ...)
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages, the same lists as the README's "What setup installs".
# To run: fuse3 (fusermount3) to mount, libfuse3-dev + pkg-config + gcc to build pyfuse3, and the
# tools the demo's hints use (rsync, getfattr from attr, curl).
want=(fuse3 libfuse3-dev pkg-config gcc python3-dev python3-venv rsync attr curl)
# To test, also the tools the tests drive the mount with: faketime (another date), tmux (the demo
# in a terminal), mc and libglib2.0-bin (gio: what desktops see), ffmpeg (ffprobe of the demo
# clips), jq (SEMANTICS examples), file, openssl (an https emulator's certificate), vim (its swap
# file through the mount).
[ "${1:-}" = test ] && want+=(faketime tmux mc libglib2.0-bin ffmpeg jq file openssl vim)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# python3-dev/python3-venv are only needed for Debian's own python3; a python with its own
# headers and venv module (pyenv, the official images) does without them.
if python3 -c 'import sysconfig, os, venv; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null; then
  filtered=()
  for pkg in "${missing[@]}"; do
    case "$pkg" in python3-dev|python3-venv) ;; *) filtered+=("$pkg") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
extra=""
[ "${1:-}" = test ] && extra="[test]"
# pip runs only when what it installs from changed: the stamp is the hash of the packaging files,
# the extras and the venv's python (a test install also serves a runtime one). The install is
# editable, so source changes need no pip.
stamp=.venv/setup.stamp
stamp_for() { { cat setup.cfg pyproject.toml; echo "$1"; .venv/bin/python -VV; } | sha256sum; }
want_stamp=$(stamp_for "$extra")
have_stamp=$(cat "$stamp" 2>/dev/null || true)
if [ "$have_stamp" = "$want_stamp" ] || { [ -z "$extra" ] && [ "$have_stamp" = "$(stamp_for "[test]")" ]; }; then
  exit 0
fi
# pip's own chatter (build warnings, index notes) goes to a log; it is shown only on failure.
log=.venv/setup.log
if ! { .venv/bin/python -m pip install -q --upgrade pip \
       && .venv/bin/python -m pip install -q -e ".${extra}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup: installing vipfs into .venv failed (log above, also in $log)" >&2
  exit 1
fi
echo "$want_stamp" >"$stamp"
