#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and benchmarking
# Nightwatch need. Idempotent: it asks apt only for what is missing, and does
# nothing (not even `apt-get update`) when everything is already there.
#
#   scripts/install-deps.sh           install what is missing
#   scripts/install-deps.sh --check   list what is missing; exit 1 if anything is
#   scripts/install-deps.sh --bench   also the opt-in set that only the
#                                     side-by-side benchmarks need (etcd 3.4,
#                                     nats-server); combines with --check
set -euo pipefail

check=0
bench=0
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    --bench) bench=1 ;;
    *)
      echo "install-deps: unknown option '$arg'; use --check and/or --bench" >&2
      exit 2
      ;;
  esac
done

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
  # libfaketime: cluster_test runs an agent with its wall clock shifted
  faketime
  # shells whose completion scripts the tests load
  bash zsh fish
  # IANA time zones for job schedules (agent/jobs reads /usr/share/zoneinfo)
  tzdata
)

if ((bench)); then
  packages+=(
    # bench/failover.py and bench/commit.sh run a 3-member etcd 3.4 cluster
    # next to Nightwatch; the Debian package's own etcd service is not used
    etcd-server etcd-client
    # bench/topics/nats.sh runs a 3-node nats-server JetStream cluster next to
    # Nightwatch's topics (its node client comes from npm, see bench/topics)
    nats-server
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$p")
  fi
done

if ((check)); then
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
