#!/usr/bin/env bash
# The committed BPF object must be what clang builds from the C sources today, and the
# generated ABI mirror must match vigil_abi.h (CI installs clang through scripts/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v clang >/dev/null; then
  if [ "${VIGIL_REQUIRE_PRIVILEGED:-}" = "1" ] || [ -n "${CI:-}" ]; then
    echo "bpf-object: clang missing (scripts/deps.sh installs it)" >&2
    exit 1
  fi
  echo "SKIP bpf-object: clang missing"
  exit 0
fi
cargo xtask abi --check
cargo xtask bpf --check
# A fresh clone without clang builds from the prebuilt object alone.
VIGIL_BPF_PREBUILT=1 cargo test --locked -p vigil-bpf --test abi_btf
