#!/usr/bin/env bash
# The whole test suite, on a fresh machine with only the Rust toolchain.
# It installs what the tests need itself (as root, via apt-get) before running them.
set -euo pipefail
cd "$(dirname "$0")/.."

# Live mode (cargo feature `live`) builds etcd-client and containerd-client
# (protoc and the protobuf well-known types) and its tests start a real etcd
# and containerd. Each missing piece maps to its Debian package.
need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
have etcd || need_apt+=(etcd-server)
have etcdctl || need_apt+=(etcd-client)
have containerd || need_apt+=(containerd)
have runc || need_apt+=(runc)
have busybox || need_apt+=(busybox-static)
have openssl || need_apt+=(openssl)
have protoc || need_apt+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/timestamp.proto ] || need_apt+=(libprotobuf-dev)
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
cargo test -j 2 --locked --features live
