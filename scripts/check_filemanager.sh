#!/usr/bin/env bash
# Browses the demo account with real file managers and checks that browsing downloads nothing:
#   1. an emulator with --seed-demo and direct_link enabled (so a read *could* download), mounted;
#   2. pcmanfm under Xvfb (directory tree and detailed list, thumbnails at their default: on,
#      local files only) opens the mount and goes into Series/Breaking Bad/Season 1; a
#      screenshot is saved to docs/screenshots/filemanager.png;
#   3. Midnight Commander under tmux lists the root and goes into a folder; the folder names must
#      appear on its screen (saved as docs/screenshots/mc.txt);
#   4. the emulator's counters must show no download, or only head reads (at most HEAD_BYTES per
#      file, far below the files' sizes).
# Installs what it needs with apt (Debian). Everything is unmounted and stopped on exit.
#   scripts/check_filemanager.sh [--keep]   (--keep: leave the temp dir for inspection)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
keep=${1:-}
HEAD_BYTES=$((64 * 1024))

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
say() { printf 'check_filemanager: %s\n' "$*"; }
fail() { say "FAIL: $*"; exit 1; }

need=()
for pkg in xvfb pcmanfm imagemagick xdotool dbus-x11 mc tmux curl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null
fi
[ -x .venv/bin/python ] || scripts/setup.sh

work=$(mktemp -d)
mnt=$work/home/vipfs  # under the (temporary) home, where the tree pane starts
socket=vipfs-fm-$$
pids=()
cleanup() {
  set +e
  tmux -L "$socket" kill-server 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  if mountpoint -q "$mnt"; then fusermount3 -u "$mnt" || fusermount3 -uz "$mnt"; fi
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  if [ "$keep" = --keep ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$mnt" "$work/home"
printf '1abcdefghijklmnop\n' >"$work/key"
chmod 600 "$work/key"

# 1. the emulator and the mount
.venv/bin/python -m vipfs emulator --port 0 --key-file "$work/key" --seed-demo \
  --enable direct_link >"$work/emulator.url" 2>"$work/emulator.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/emulator.url" ] && break; sleep 0.1; done
api=$(head -n1 "$work/emulator.url")
[[ $api == http://127.0.0.1:* ]] || fail "the emulator did not start: $(cat "$work/emulator.log")"
base=${api%/api}
.venv/bin/python -m vipfs mount "$mnt" --api-url "$api" --key-file "$work/key" \
  --cache-dir "$work/cache" --state-dir "$work/state" --log-file "$work/mount.log" -v
curl -fsS -X DELETE "$base/_emu/calls" >/dev/null
say "mounted the demo account at $mnt"

# 2. pcmanfm under Xvfb, in a home of its own
exec 3>"$work/display"
Xvfb -displayfd 3 -screen 0 1100x700x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/display" ] && break; sleep 0.1; done
export DISPLAY=:$(head -n1 "$work/display")
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_CACHE_HOME=$work/home/.cache
mkdir -p "$XDG_CONFIG_HOME/pcmanfm/default"
cat >"$XDG_CONFIG_HOME/pcmanfm/default/pcmanfm.conf" <<EOF
[ui]
win_width=1100
win_height=700
splitter_pos=260
side_pane_mode=dirtree
view_mode=list
show_hidden=0
EOF
# a session bus of our own, so that nothing autolaunches one that would outlive the script
dbus-daemon --session --nofork --print-address=4 4>"$work/bus" >"$work/dbus.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/bus" ] && break; sleep 0.1; done
DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$work/bus")
export DBUS_SESSION_BUS_ADDRESS
pcmanfm --no-desktop "$mnt" >"$work/pcmanfm.log" 2>&1 &
pids+=($!)
window=$(timeout 30 xdotool search --sync --onlyvisible --class pcmanfm | head -n1) \
  || fail "no pcmanfm window (log: $(tail -5 "$work/pcmanfm.log"))"
sleep 2
xdotool windowactivate --sync "$window" 2>/dev/null || true
xdotool key --window "$window" ctrl+l
sleep 0.5
xdotool type --window "$window" --delay 20 "$mnt/Series/Breaking Bad/Season 1"
xdotool key --window "$window" Return
sleep 3  # let it list and draw the folder
mkdir -p docs/screenshots
import -window root docs/screenshots/filemanager.png
title=$(xdotool getwindowname "$window")
say "pcmanfm window: $title; screenshot in docs/screenshots/filemanager.png"
[[ $title == *"Season 1"* ]] || fail "pcmanfm did not go into Series/Breaking Bad/Season 1"

# 3. Midnight Commander under tmux
tmux -L "$socket" new-session -d -s mc -x 120 -y 36 \
  env HOME="$work/home" TERM=xterm mc --nosubshell --nocolor "$mnt" "$mnt/Movies"
screen=""
wait_for() {  # wait until every word is on mc's screen
  for _ in $(seq 150); do
    screen=$(tmux -L "$socket" capture-pane -p -t mc)
    local word missing=0
    for word in "$@"; do [[ $screen == *"$word"* ]] || missing=1; done
    [ $missing = 0 ] && return 0
    sleep 0.2
  done
  printf '%s\n' "$screen"
  fail "mc never showed: $*"
}
wait_for Movies Series "Holiday 2023" Clips "big buck bunny"
tmux -L "$socket" send-keys -t mc "cd Series/Breaking\\ Bad" Enter
wait_for "Season 1" "Season 2" "big buck bunny"
printf '%s\n' "$screen" >docs/screenshots/mc.txt
tmux -L "$socket" send-keys -t mc F10
say "mc listed the root, Movies and Series/Breaking Bad (docs/screenshots/mc.txt)"

# 4. what browsing cost
calls=$(curl -fsS "$base/_emu/calls")
files=$(curl -fsS "$base/_emu/files")
say "API calls while browsing: $calls"
CALLS=$calls FILES=$files HEAD_BYTES=$HEAD_BYTES python3 - <<'EOF'
import json, os, sys
calls = json.loads(os.environ["CALLS"])
files = [f for f in json.loads(os.environ["FILES"]) if not f["deleted"]]
total = sum(f["size"] for f in files)
downloads, got = calls.get("download", 0), calls.get("download_bytes", 0)
print(f"check_filemanager: {len(files)} files, {total} bytes in the account; "
      f"{downloads} downloads, {got} bytes downloaded ({100 * got / max(total, 1):.2f}%)")
if got > downloads * int(os.environ["HEAD_BYTES"]):
    sys.exit("check_filemanager: FAIL: browsing downloaded more than head reads")
EOF
say "OK"
