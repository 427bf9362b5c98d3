#!/bin/sh
# io_uring auditing benchmark (docs/BENCHMARKS.md, "io_uring"): fio's io_uring engine, 4 KiB
# random reads of a file on tmpfs, none / vigil auditing OPENAT only / vigil auditing every op,
# rounds interleaved. Needs root, kernel BTF and fio. Extra arguments go to the benchmark
# (--rounds N --secs S --iodepth D --size MiB --fio-cpu C --reader-cpu C --prog-stats).
set -eu
cd "$(dirname "$0")/.."
cargo build --release -q -p vigil-bpf --example uring_bench
target="${CARGO_TARGET_DIR:-target}"
# BPF is loaded: take the kernel lock the privileged tests use.
exec flock /tmp/vigil-kernel.lock "$target/release/examples/uring_bench" "$@"
