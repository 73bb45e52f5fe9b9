#!/usr/bin/env bash
# Makes the demo's sample clips (vipfs/emulator/clips/*.mp4) with ffmpeg's own test sources:
# 1 s, 160x90, H.264 + AAC, a few KB each. They are committed; rerun this only to change them.
set -euo pipefail
cd "$(dirname "$0")/../vipfs/emulator/clips"
make() {  # NAME VIDEO-SOURCE AUDIO-FREQUENCY
  ffmpeg -loglevel error -y -f lavfi -i "$2=size=160x90:rate=10:duration=1" \
    -f lavfi -i "sine=frequency=$3:duration=1" -c:v libx264 -preset veryslow -crf 35 \
    -pix_fmt yuv420p -c:a aac -b:a 16k -ac 1 -map_metadata -1 -fflags +bitexact \
    -movflags +faststart "$1.mp4"
}
make testsrc testsrc 440
make smptebars smptebars 660
make rgbtestsrc rgbtestsrc 880
make testsrc2 testsrc2 330
ls -l ./*.mp4
