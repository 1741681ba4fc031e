#!/usr/bin/env bash
# The whole test suite, on a fresh machine with only the Rust toolchain.
# It installs what the tests need itself (as root, via apt-get) before running them.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# Tests of the core need nothing beyond cargo. Live-mode tests (etcd, containerd)
# add their packages here when they land: etcd-server etcd-client containerd runc
# busybox-static protobuf-compiler libprotobuf-dev.
if ((${#need_apt[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing packages ${need_apt[*]}; run as root or install them with apt-get" >&2
    exit 2
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "error: cargo not found; install the Rust toolchain (https://rustup.rs)" >&2
  exit 2
fi

# insta: never write snapshots in CI; a changed summary must be reviewed.
export INSTA_UPDATE=no
cargo test -j 2 --locked
