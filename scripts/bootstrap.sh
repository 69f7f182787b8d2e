#!/usr/bin/env bash
# Prepares a fresh machine for `make run` / `make test`; idempotent, quiet when nothing is missing.
#
#   scripts/bootstrap.sh run    system packages + libtorch
#   scripts/bootstrap.sh test   the same + the Python training environment (pytest, pillow, ...)
#
# libtorch: $LIBTORCH if set, else PyPI's torch==2.13.0 (the version tch 0.26 links) installed
# once into a per-user cache venv. Writes .cargo/config.toml (git-ignored) so that plain
# `cargo build/run/test` find the same libtorch afterwards.
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
# desktop-file-validate for the install test.
pkgs=(libclang-dev pkg-config libgl1-mesa-dri libegl1 libxkbcommon-x11-0 xvfb xauth desktop-file-utils)
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

# --- Python environment with torch ---------------------------------------------------------------
need_venv=1
if [ -n "${LIBTORCH:-}" ] && [ "$mode" = run ]; then
  need_venv=0
fi
if [ "$need_venv" = 1 ]; then
  if ! "$venv/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$torch_version' else 1)" 2>/dev/null; then
    say "installing torch==$torch_version into $venv (once; several GB with its CUDA libraries)"
    mkdir -p "$cache"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
    "$venv/bin/python" -m pip install --quiet --progress-bar off "torch==$torch_version" >&2
  fi
  if [ "$mode" = test ]; then
    "$venv/bin/python" -c "import numpy, PIL, tqdm, pytest" 2>/dev/null ||
      "$venv/bin/python" -m pip install --quiet --progress-bar off -r "$root/training/requirements.txt" >&2
  fi
fi

# --- point cargo at libtorch ---------------------------------------------------------------------
if [ -z "${LIBTORCH:-}" ]; then
  LIBTORCH=$("$venv/bin/python" -c "import os, torch; print(os.path.dirname(torch.__file__))")
fi
if [ ! -d "$LIBTORCH/lib" ] || [ ! -d "$LIBTORCH/include" ]; then
  say "LIBTORCH=$LIBTORCH has no lib/ and include/: point it at an unpacked libtorch 2.13 or unset it"
  exit 1
fi
config=$root/.cargo/config.toml
want=$(printf '# Written by scripts/bootstrap.sh (git-ignored): where libtorch lives on this machine.\n[env]\nLIBTORCH = "%s"\n' "$LIBTORCH")
if [ ! -f "$config" ] || [ "$(cat "$config")" != "$want" ]; then
  mkdir -p "$root/.cargo"
  printf '%s\n' "$want" >"$config"
  say "libtorch: $LIBTORCH (recorded in .cargo/config.toml)"
fi
