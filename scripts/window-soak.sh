#!/usr/bin/env bash
# The window's memory at a camera's pace: the release window under Xvfb replays a folder at
# 30 fps for SECS seconds (default 600) with a throwaway HOME (its diary and settings go
# there), and the emotune process's RSS and CPU time are printed every 10 s. Further
# arguments go to emotune, e.g. --hide-feed.
#   scripts/window-soak.sh FOLDER [SECS] [EMOTUNE ARGS...]
set -euo pipefail
dir=${1:?usage: scripts/window-soak.sh FOLDER [SECS]}
shift
secs=600
if [[ ${1:-} =~ ^[0-9]+$ ]]; then
  secs=$1
  shift
fi
bin=${BIN:-target/release/emotune}
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
HOME=$home XDG_CONFIG_HOME=$home/.config XDG_DATA_HOME=$home/.local/share \
  XDG_CACHE_HOME=$home/.cache EMOTUNE_MODEL=${EMOTUNE_MODEL:-$PWD/models/emotion_resnet18_cbam.pt} \
  xvfb-run -a -s "-screen 0 1280x800x24" "$bin" --source "$dir" --fps 30 --quit-after "$secs" "$@" \
  >"$home/app.log" 2>&1 &
xvfb=$!
sleep 3
# The window is xvfb-run's child (another emotune running elsewhere is not measured).
pid=$(pgrep -x emotune -P "$xvfb")
tick=$(getconf CLK_TCK)
start=$(date +%s)
echo "secs rss_mib cpu_s"
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/VmRSS/{print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || true)
  cpu=$(awk -v t="$tick" '{printf "%.1f", ($14+$15)/t}' "/proc/$pid/stat" 2>/dev/null || true)
  [ -n "$rss" ] && echo "$(($(date +%s) - start)) $rss $cpu"
  sleep 10
done
