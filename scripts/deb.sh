#!/usr/bin/env bash
# `make deb`: emotune_<version>_amd64.deb from the release binary, with dpkg-deb. The tree is
# what `make install` puts under PREFIX=/usr (scripts/install.sh with DESTDIR): /usr/bin/emotune
# (rpath $ORIGIN/../lib/emotune), libtorch's libraries in /usr/lib/emotune, the model, the
# desktop entry and icons. No maintainer scripts: dpkg's triggers (desktop-file-utils,
# hicolor-icon-theme) refresh the menu and icon caches.
#
#   scripts/deb.sh [OUT_DIR]      default: $CARGO_TARGET_DIR or target/, then debian/
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${CARGO_TARGET_DIR:-$root/target}/debian}
say() { printf 'deb: %s\n' "$*" >&2; }

command -v dpkg-deb >/dev/null || { say "dpkg-deb is missing (a Debian/Ubuntu machine: apt-get install dpkg)"; exit 1; }
arch=$(dpkg --print-architecture)
[ "$arch" = amd64 ] || { say "only amd64 is packaged (libtorch from PyPI's x86_64 wheel), not $arch"; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)
[ -n "$version" ] || { say "no version in Cargo.toml"; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
tree=$stage/emotune
PREFIX=/usr DESTDIR=$tree "$root/scripts/install.sh" install
install -D -m 644 "$root/LICENSE" "$tree/usr/share/doc/emotune/copyright"

# Depends: the system libraries the binary links (ldd), and what the window opens at run time
# (OpenGL/EGL through Mesa, xkbcommon for winit), as scripts/bootstrap.sh installs them.
mkdir -p "$tree/DEBIAN"
cat >"$tree/DEBIAN/control" <<CONTROL
Package: emotune
Version: $version
Architecture: $arch
Maintainer: emotune maintainers <maintainers@users.noreply.b-seed-5fd9db10.example>
Installed-Size: $(du -sk --exclude=DEBIAN "$tree" | cut -f1)
Depends: libc6 (>= 2.28), libstdc++6, libgcc-s1, libegl1, libgl1-mesa-dri, libxkbcommon-x11-0
Section: video
Priority: optional
Description: reads the emotion on your face and plays matching music
 emotune watches you through the webcam, reads the emotion on your face with a
 small network run through libtorch (bundled, CPU only) and plays music to match
 it, from Spotify or a built-in offline catalog.
CONTROL

mkdir -p "$out"
deb=$out/emotune_${version}_${arch}.deb
# --root-owner-group: files owned by root whoever builds. xz, as Debian's own packages, is read
# by every dpkg but takes minutes on libtorch; DEB_COMPRESS=zstd takes seconds (dpkg >= 1.21.18).
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" --build "$tree" "$deb" >&2
say "$deb ($(stat -c %s "$deb") bytes)"
