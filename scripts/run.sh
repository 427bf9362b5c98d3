#!/usr/bin/env bash
# vigil's main job on a fresh machine: build, then check the bundled default rules.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked -p vigil
exec target/release/vigil rules check crates/vigil/rules/default.rules "$@"
