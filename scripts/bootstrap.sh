#!/usr/bin/env bash
# Prepares a fresh machine for `make run` / `make test`; idempotent, quiet when nothing is missing.
#
#   scripts/bootstrap.sh run    system packages + libtorch
#   scripts/bootstrap.sh test   the same + the Python training environment (pytest, pillow, ...)
#
# libtorch: $LIBTORCH if set, else the libraries of PyPI's torch==2.13.0 (the version tch 0.26
# links) that the binary needs, unpacked once into a per-user cache. Writes .cargo/config.toml
# (git-ignored) so that plain `cargo build/run/test` find the same libtorch afterwards.
set -euo pipefail

mode=${1:-run}
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${EMOTUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/emotune}
venv=$cache/torch-venv
torch_version=2.13.0

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# --- system packages ----------------------------------------------------------------------------
# libclang-dev: bindgen for nokhwa's v4l bindings. The rest: what the GUI needs at run time
# (OpenGL/EGL via Mesa, xkbcommon for winit), Xvfb for the screenshot tests and
# desktop-file-validate for the install test. unzip: libtorch from its wheels; patchelf: the
# installed binary's rpath (scripts/install.sh). sqlite3 (tests only): the diary test reads the
# file with SQLite's own CLI.
pkgs=(libclang-dev pkg-config libgl1-mesa-dri libegl1 libxkbcommon-x11-0 xvfb xauth desktop-file-utils
  unzip patchelf)
[ "$mode" = test ] && pkgs+=(sqlite3)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    say "cannot install packages (not root, no passwordless sudo). Please run:"
    say "  sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
    "${sudo[@]}" apt-get update >&2
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2
  fi
fi

# --- libtorch ------------------------------------------------------------------------------------
# $LIBTORCH if set, else only what the binary links, from PyPI's wheels (scripts/libtorch.txt):
# unpacked once into $cache/libtorch (~0.5 GB, against ~5 GB for a full torch install with its
# CUDA libraries). The same location serves `make run`, `make test` and `make install`.
fetch_libtorch() { # DEST
  local dest=$1 tmp pip=(python3 -m pip)
  if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
    say "no prebuilt libtorch here for $(uname -s)-$(uname -m): set LIBTORCH to a libtorch $torch_version"
    exit 1
  fi
  command -v unzip >/dev/null || { say "unzip is missing: apt-get install unzip"; exit 1; }
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/libtorch.tmp.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  if ! python3 -m pip --version >/dev/null 2>&1; then
    # No pip for the system python (Debian's python3 without python3-pip): a throwaway venv's.
    python3 -m venv "$tmp/pip" >&2 || {
      say "fetching libtorch needs python3 with pip or venv (apt-get install python3-venv), or set LIBTORCH"
      exit 1
    }
    pip=("$tmp/pip/bin/python" -m pip)
  fi
  say "downloading libtorch $torch_version from PyPI into $dest (once; ~540 MB download, ~490 MB kept)"
  # --require-hashes: every wheel must match the sha256 pinned in libtorch.txt. The tags pick the
  # x86_64 wheels whatever the local Python; the wheels are never installed, only unpacked.
  "${pip[@]}" download --quiet --progress-bar off --no-cache-dir --no-deps --require-hashes \
    --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_25_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -r "$root/scripts/libtorch.txt" -d "$tmp/wheels" >&2 ||
    { say "pip download failed (above); nothing kept. Without PyPI: set LIBTORCH"; exit 1; }
  say "downloaded $(du -cb "$tmp/wheels"/*.whl | tail -n1 | cut -f1) bytes (hashes checked)"
  # torch/lib: libtorch.so only for the linker (-ltorch); no libtorch_cuda*.so, so torch-sys links
  # the CPU library alone. libtorch_cpu.so's rpath has $ORIGIN, so the CUDA runtime stubs it is
  # linked against go next to it.
  unzip -q "$tmp/wheels"/torch-*.whl -d "$tmp/x" 'torch/include/*' \
    torch/lib/libtorch_cpu.so torch/lib/libc10.so torch/lib/libtorch.so torch/lib/libgomp.so.1
  unzip -q -j "$tmp/wheels"/nvidia_cuda_runtime-*.whl -d "$tmp/x/torch/lib" 'nvidia/cu13/lib/libcudart.so.13'
  unzip -q -j "$tmp/wheels"/nvidia_cuda_cupti-*.whl -d "$tmp/x/torch/lib" 'nvidia/cu13/lib/libcupti.so.13'
  rm -rf "$tmp/wheels"
  # torch-sys reads build-version for its version check; it also marks a complete unpack.
  printf '%s\n' "$torch_version" >"$tmp/x/torch/build-version"
  rm -rf "$dest"
  mv "$tmp/x/torch" "$dest"
  rm -rf "$tmp"
  trap - EXIT
}

if [ -z "${LIBTORCH:-}" ]; then
  LIBTORCH=$cache/libtorch
  [ "$(cat "$LIBTORCH/build-version" 2>/dev/null)" = "$torch_version" ] || fetch_libtorch "$LIBTORCH"
fi
if [ ! -d "$LIBTORCH/lib" ] || [ ! -d "$LIBTORCH/include" ]; then
  say "LIBTORCH=$LIBTORCH has no lib/ and include/: point it at an unpacked libtorch $torch_version or unset it"
  exit 1
fi
config=$root/.cargo/config.toml
want=$(printf '# Written by scripts/bootstrap.sh (git-ignored): where libtorch lives on this machine.\n[env]\nLIBTORCH = "%s"\n' "$LIBTORCH")
if [ ! -f "$config" ] || [ "$(cat "$config")" != "$want" ]; then
  mkdir -p "$root/.cargo"
  printf '%s\n' "$want" >"$config"
  say "libtorch: $LIBTORCH (recorded in .cargo/config.toml)"
fi

# --- Python environment for the training tests (test mode only) ---------------------------------
# The full torch with its CUDA libraries (several GB): training uses the GPU when there is one.
# The Rust build does not use it.
if [ "$mode" = test ]; then
  if ! "$venv/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$torch_version' else 1)" 2>/dev/null; then
    say "installing torch==$torch_version into $venv (once; several GB with its CUDA libraries)"
    mkdir -p "$cache"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
    "$venv/bin/python" -m pip install --quiet --progress-bar off "torch==$torch_version" >&2
  fi
  "$venv/bin/python" -c "import numpy, PIL, tqdm, pytest" 2>/dev/null ||
    "$venv/bin/python" -m pip install --quiet --progress-bar off -r "$root/training/requirements.txt" >&2
fi
