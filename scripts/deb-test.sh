#!/usr/bin/env bash
# Installs a built emotune .deb with apt on this machine, checks it, removes it, and checks that
# the removal left the file system as it found it. Needs root (apt) and changes the system while
# it runs; not part of `make test`.
#
#   sudo scripts/deb-test.sh [DEB]    default: the newest target/debian/emotune_*_amd64.deb
#
# Checks: the binary loads only system libraries and its own from /usr/lib/emotune; `emotune
# classify` reads the fixture's face as happy; the desktop entry validates and its Exec line opens
# the window under Xvfb (a screenshot, --quit-after); `apt-get remove` leaves no file behind.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'deb-test: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

deb=${1:-$(ls -t "${CARGO_TARGET_DIR:-$root/target}"/debian/emotune_*_amd64.deb 2>/dev/null | head -n1)}
[ -n "$deb" ] && [ -f "$deb" ] || fail "no .deb given or found (make deb first)"
deb=$(realpath "$deb")
[ "$(id -u)" -eq 0 ] || fail "needs root: apt installs and removes the package"
if dpkg-query -W -f='${Status}' emotune 2>/dev/null | grep -q 'ok installed'; then
  fail "emotune is already installed from a package; remove it first (apt-get remove emotune)"
fi
for t in xvfb-run desktop-file-validate; do
  command -v "$t" >/dev/null || fail "$t is missing (scripts/bootstrap.sh installs it)"
done

tmp=$(mktemp -d)
installed=0
# A failed check must not leave the package installed.
trap '[ "$installed" = 0 ] || apt-get remove -y emotune >/dev/null 2>&1; rm -rf "$tmp"' EXIT
# Every path in the folders a package may touch; /var/lib/dpkg too, whose per-package lists must
# go away again. Logs and apt's caches change with any apt run, so they are left out.
snapshot() {
  find /usr /etc /opt /var/lib/dpkg -xdev \
    -not -path '/var/lib/dpkg/*-old' -not -path '/var/lib/dpkg/triggers/*' 2>/dev/null | sort
}
snapshot >"$tmp/before"

export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "$deb" >"$tmp/apt-install.log" 2>&1 ||
  { cat "$tmp/apt-install.log" >&2; fail "apt-get install $deb"; }
installed=1
# The snapshot must see what the package put there, or an empty diff would prove nothing.
snapshot >"$tmp/during"
grep -q -x /usr/lib/emotune/libtorch_cpu.so "$tmp/during" || fail "the file list does not see the package's files"
say "installed $(basename "$deb") ($(stat -c %s "$deb") bytes; $(dpkg-query -W -f='${Installed-Size}' emotune) KiB installed)"

(
  # A fresh user: nothing from this machine's config, cache or the source tree helps.
  export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/config XDG_CACHE_HOME=$tmp/home/cache \
    XDG_STATE_HOME=$tmp/home/state
  unset EMOTUNE_MODEL RSPOTIFY_CLIENT_ID RSPOTIFY_CLIENT_SECRET SPOTIPY_CLIENT_ID SPOTIPY_CLIENT_SECRET
  mkdir -p "$HOME"
  cd "$HOME"
  cp "$root/tests/fixtures/astronaut.png" me.png

  libs=$(ldd /usr/bin/emotune)
  ! grep -q 'not found' <<<"$libs" || fail "unresolved libraries: $libs"
  # ldd writes /usr/bin/../lib/emotune/...: compare real paths.
  odd=$(awk '$2 == "=>" { print $3 }' <<<"$libs" | xargs -r realpath | grep -v -E '^/(usr/)?lib(32|64|x32)?/' || true)
  [ -z "$odd" ] || fail "libraries from outside the system and /usr/lib/emotune: $odd"

  /usr/bin/emotune classify me.png >classify.txt 2>classify.err || { cat classify.err >&2; fail "emotune classify"; }
  grep -q happy classify.txt || fail "classify did not read happy: $(cat classify.txt)"

  entry=/usr/share/applications/emotune.desktop
  said=$(desktop-file-validate "$entry" 2>&1) && [ -z "$said" ] || fail "desktop-file-validate: $said"
  exec_line=$(sed -n 's/^Exec=//p' "$entry")
  [ "$exec_line" = /usr/bin/emotune ] || fail "Exec=$exec_line"
  xvfb-run -a -s '-screen 0 1280x800x24' $exec_line --source me.png --screenshot shot.png \
    --quit-after 4 >launch.log 2>&1 || { cat launch.log >&2; fail "the Exec line under Xvfb"; }
  [ -s shot.png ] || fail "no screenshot from the Exec line"
  say "classify, desktop entry and window under Xvfb: ok"
)

apt-get remove -y emotune >"$tmp/apt-remove.log" 2>&1 || { cat "$tmp/apt-remove.log" >&2; fail "apt-get remove"; }
installed=0
dpkg-query -W -f='${Status}\n' emotune 2>/dev/null | grep -q -v 'not-installed' &&
  fail "dpkg still knows emotune: $(dpkg-query -W -f='${Status}' emotune)"
snapshot >"$tmp/after"
if ! diff "$tmp/before" "$tmp/after" >"$tmp/diff"; then
  cat "$tmp/diff" >&2
  fail "the file system differs after apt-get remove (< before, > after)"
fi
say "apt-get remove left nothing behind: ok"
