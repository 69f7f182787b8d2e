#!/usr/bin/env bash
# `make install` / `make uninstall`: the release binary, the libraries it links that are not
# system ones (libtorch's, in PREFIX/lib/emotune), the emotion model, a freedesktop .desktop
# entry and the icon in hicolor sizes, under PREFIX (default ~/.local). The installed binary's
# rpath is $ORIGIN/../lib/emotune (patchelf), so it needs nothing from the build's cache.
# Every file installed, and every folder install had to create, is listed in
# PREFIX/share/emotune/installed.txt; uninstall removes exactly those (folders only if empty).
# DESTDIR=DIR stages the same tree under DIR for a package (scripts/deb.sh), without that list.
set -euo pipefail

mode=${1:?usage: install.sh install|uninstall}
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-$HOME/.local}
case $prefix in /*) ;; *) printf 'install: PREFIX must be an absolute path, not %s\n' "$prefix" >&2; exit 2 ;; esac
destdir=${DESTDIR:-}
share=$destdir$prefix/share
manifest=$share/emotune/installed.txt

say() { printf 'install: %s\n' "$*" >&2; }

new_dirs() { # DIR: the folders mkdir -p would create for DIR, outermost first
  local d=$1 list=()
  while [ ! -d "$d" ]; do list=("$d" "${list[@]}"); d=$(dirname "$d"); done
  [ ${#list[@]} -eq 0 ] || printf 'd %s\n' "${list[@]}"
}

# The libraries BIN loads from outside the system's own folders, one path a line; fails on one
# that cannot be found (the libtorch BIN was built against is gone).
private_libs() { # BIN
  local out
  out=$(ldd "$1") || { say "ldd $1 failed"; exit 1; }
  if grep -q 'not found' <<<"$out"; then
    say "$1 links libraries that are gone (run scripts/bootstrap.sh run, then cargo build --release):"
    grep 'not found' <<<"$out" >&2
    exit 1
  fi
  awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$out" | grep -v -E '^/(usr/)?lib(32|64|x32)?/' || true
}

put() { # SRC DST MODE
  new_dirs "$(dirname "$2")" >> "$manifest.tmp"
  install -D -m "$3" "$1" "$2"
  printf 'f %s\n' "$2" >> "$manifest.tmp"
}

case $mode in
install)
  bin=${EMOTUNE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/emotune}
  [ -x "$bin" ] || { say "no release binary at $bin: run cargo build --release first"; exit 1; }
  [ -f "$manifest" ] && { say "already installed; updating (make uninstall first for a clean one)"; }
  dirs=$(new_dirs "$share/emotune")
  mkdir -p "$share/emotune"
  printf '%s\n' "$dirs" | grep . > "$manifest.tmp" || true
  command -v patchelf >/dev/null || { say "patchelf is missing: apt-get install patchelf"; exit 1; }
  libs=$(private_libs "$bin")
  while IFS= read -r lib; do
    [ -n "$lib" ] || continue
    put "$lib" "$destdir$prefix/lib/emotune/$(basename "$lib")" 644
    # PyPI's libtorch looks in ../../nvidia/* first (its site-packages layout); here all sit together.
    patchelf --set-rpath '$ORIGIN' "$destdir$prefix/lib/emotune/$(basename "$lib")"
  done <<<"$libs"
  put "$bin" "$destdir$prefix/bin/emotune" 755
  # The build's rpath points into the build machine's cache; the copy looks beside itself only.
  patchelf --set-rpath "\$ORIGIN/../lib/emotune" "$destdir$prefix/bin/emotune"
  # The model and the files the app reads beside it (<model>.neutral.json, the profile anchor).
  for f in "$root"/models/emotion_resnet18_cbam.*; do
    put "$f" "$share/emotune/models/$(basename "$f")" 644
  done
  for size in 48 64 128 256; do
    put "$root/assets/icons/hicolor/${size}x${size}/emotune.png" \
      "$share/icons/hicolor/${size}x${size}/apps/emotune.png" 644
  done
  desktop=$(mktemp)
  sed "s#@BIN@#$prefix/bin/emotune#" "$root/assets/emotune.desktop.in" > "$desktop"
  put "$desktop" "$share/applications/emotune.desktop" 644
  rm -f "$desktop"
  if [ -n "$destdir" ]; then # staged for a package: its manager keeps the list
    rm -f "$manifest.tmp"
    say "staged under $destdir$prefix"
    exit 0
  fi
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
