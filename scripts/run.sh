#!/usr/bin/env bash
# vigil's main job on a fresh machine: build, then run the audit daemon in the foreground with
# its embedded default configuration and rules (docs/daemon.md). Extra arguments go to
# `vigil daemon` (e.g. --config FILE, --log FILE, --socket PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked -p vigil
exec "${CARGO_TARGET_DIR:-target}/release/vigil" daemon "$@"
