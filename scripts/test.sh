#!/usr/bin/env bash
# vigil's whole test suite: lint, the pure engine tier, the privileged tier (BPF, kernel
# audit) and the interop tier (ausearch/aureport read what vigil writes), fuzz smoke runs.
# Privileged tests skip with a printed reason when not root; VIGIL_REQUIRE_PRIVILEGED=1
# turns such a skip into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

echo "== fmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests (all tiers)"
cargo test --workspace --all-targets --locked --no-fail-fast
cargo test --workspace --doc --locked
for extra in scripts/test.d/*.sh; do
  [ -e "$extra" ] || continue
  echo "== $extra"
  bash "$extra"
done
echo "== all tests passed"
