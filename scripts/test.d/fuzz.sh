#!/usr/bin/env bash
# Fuzz smoke runs: each cargo-fuzz target for a short bounded time (VIGIL_FUZZ_SECS, default 20).
# Only stable Rust exists here: `cargo fuzz run --sanitizer none` builds with stable flags
# (sancov instrumentation through -C options; the -Zsanitizer flag is what needs nightly), so
# no RUSTC_BOOTSTRAP is needed. cargo-fuzz is installed from crates.io when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${VIGIL_FUZZ_SECS:-20}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
# Crate dir -> its targets. Seeds are committed; the corpus grows under fuzz/corpus (ignored).
for crate in crates/vigil-format; do
  fuzz="$crate/fuzz"
  for target in $(cd "$fuzz" && cargo fuzz list); do
    echo "fuzz: $crate $target for ${secs}s"
    mkdir -p "$fuzz/corpus/$target" "$fuzz/target"
    log="$fuzz/target/fuzz-$target.log"
    args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048)
    # libFuzzer adds new inputs to the first corpus directory: the ignored corpus, not seeds.
    (cd "$fuzz" && cargo fuzz run "$target" --sanitizer none -- "${args[@]}" "corpus/$target" "seeds/$target") \
      >"$log" 2>&1 || {
        echo "fuzz: $crate $target FAILED (artifacts in $fuzz/artifacts); last lines of $log:" >&2
        grep -a -v '^#' "$log" | tail -40 | cut -c1-400 >&2
        exit 1
      }
    grep -a '^Done' "$log" || true
  done
done
