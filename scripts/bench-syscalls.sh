#!/bin/sh
# Syscall latency, vigil vs kernel audit + auditd vs no auditing vs a bare BPF hook, side by
# side in one run (docs/BENCHMARKS.md, "Syscall latency: vigil vs kernel audit").
# Root; takes /tmp/vigil-kernel.lock for the whole run and restores kernel audit state.
# Options: cargo run --release -p xtask -- bench audit-compare --help
# Example: scripts/bench-syscalls.sh --rounds 10 --out /tmp/latency.md
set -eu
cd "$(dirname "$0")/.."
exec cargo run --release --quiet -p xtask -- bench audit-compare "$@"
