#!/usr/bin/env bash
# `make install` / `make uninstall`: the release binary, the emotion model, a freedesktop
# .desktop entry and the icon in hicolor sizes, under PREFIX (default ~/.local).
# Every file installed, and every folder install had to create, is listed in
# PREFIX/share/emotune/installed.txt; uninstall removes exactly those (folders only if empty).
set -euo pipefail

mode=${1:?usage: install.sh install|uninstall}
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-$HOME/.local}
share=$prefix/share
manifest=$share/emotune/installed.txt

say() { printf 'install: %s\n' "$*" >&2; }

new_dirs() { # DIR: the folders mkdir -p would create for DIR, outermost first
  local d=$1 list=()
  while [ ! -d "$d" ]; do list=("$d" "${list[@]}"); d=$(dirname "$d"); done
  [ ${#list[@]} -eq 0 ] || printf 'd %s\n' "${list[@]}"
}

put() { # SRC DST MODE
  new_dirs "$(dirname "$2")" >> "$manifest.tmp"
  install -D -m "$3" "$1" "$2"
  printf 'f %s\n' "$2" >> "$manifest.tmp"
}

case $mode in
install)
  bin=${EMOTUNE_BIN:-$root/target/release/emotune}
  [ -x "$bin" ] || { say "no release binary at $bin: run cargo build --release first"; exit 1; }
  [ -f "$manifest" ] && { say "already installed; updating (make uninstall first for a clean one)"; }
  dirs=$(new_dirs "$share/emotune")
  mkdir -p "$share/emotune"
  printf '%s\n' "$dirs" | grep . > "$manifest.tmp" || true
  put "$bin" "$prefix/bin/emotune" 755
  put "$root/models/emotion_resnet18_cbam.pt" "$share/emotune/models/emotion_resnet18_cbam.pt" 644
  for size in 48 64 128 256; do
    put "$root/assets/icons/hicolor/${size}x${size}/emotune.png" \
      "$share/icons/hicolor/${size}x${size}/apps/emotune.png" 644
  done
  desktop=$(mktemp)
  sed "s#@BIN@#$prefix/bin/emotune#" "$root/assets/emotune.desktop.in" > "$desktop"
  put "$desktop" "$share/applications/emotune.desktop" 644
  rm -f "$desktop"
  printf 'f %s\n' "$manifest" >> "$manifest.tmp"
  # An update keeps the folders the first install created on the list.
  [ -f "$manifest" ] && grep '^d ' "$manifest" >> "$manifest.tmp" || true
  sort -u -o "$manifest.tmp" "$manifest.tmp"
  mv "$manifest.tmp" "$manifest"
  say "installed $(grep -c '^f ' "$manifest") files under $prefix (list: $manifest)"
  case ":$PATH:" in *":$prefix/bin:"*) ;; *) say "note: $prefix/bin is not on your PATH" ;; esac
  ;;
uninstall)
  [ -f "$manifest" ] || { say "nothing to uninstall: $manifest not found"; exit 0; }
  list=$(cat "$manifest")
  n=0
  while IFS= read -r f; do
    rm -f -- "$f" && n=$((n + 1))
  done < <(printf '%s\n' "$list" | sed -n 's/^f //p')
  # Deepest folders first; a folder that holds something else stays.
  while IFS= read -r d; do
    rmdir -- "$d" 2>/dev/null || true
  done < <(printf '%s\n' "$list" | sed -n 's/^d //p' | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-)
  say "removed $n files"
  ;;
*)
  say "unknown mode $mode (install or uninstall)"; exit 2 ;;
esac
