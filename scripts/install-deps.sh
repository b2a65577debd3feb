#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and benchmarking
# Nightwatch need. Idempotent: it asks apt only for what is missing, and does
# nothing (not even `apt-get update`) when everything is already there.
#
#   scripts/install-deps.sh           install what is missing
#   scripts/install-deps.sh --check   list what is missing; exit 1 if anything is
set -euo pipefail

packages=(
  # toolchain
  g++ make cmake pkg-config ccache clang-format
  # libraries (see ../shared/notes/dependencies.md for how CMake finds each)
  libcli11-dev libcpp-httplib-dev libtomlplusplus-dev
  libsqlitecpp-dev libsqlite3-dev libhiredis-dev
  libboost-dev libboost-filesystem-dev nlohmann-json3-dev
  libssl-dev zlib1g-dev libbrotli-dev doctest-dev
  # servers and tools the tests and benchmarks drive
  redis-server hyperfine procps wrk curl python3
  # shells whose completion scripts the tests load
  bash zsh fish
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$p")
  fi
done

if [[ "${1:-}" == "--check" ]]; then
  if ((${#missing[@]})); then
    printf 'missing: %s\n' "${missing[*]}"
    exit 1
  fi
  echo "all ${#packages[@]} packages installed"
  exit 0
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    echo "install-deps: run as root, or install sudo" >&2
    exit 1
  fi
  sudo="sudo"
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
