#!/bin/sh
# Sustained event rate of an openat flood matching one rule, vigil vs kernel audit + auditd
# (docs/BENCHMARKS.md, "Sustained event rate"). Root; holds /tmp/vigil-kernel.lock.
# Options: cargo run --release -p xtask -- bench flood --help
set -eu
cd "$(dirname "$0")/.."
exec cargo run --release --quiet -p xtask -- bench flood "$@"
