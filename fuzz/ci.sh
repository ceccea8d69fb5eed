#!/usr/bin/env bash
# The bounded fuzz step of CI: every target for a fixed time, starting from the seeds
# in fuzz/corpus/ (left untouched: what the run finds goes to a scratch directory).
# Fails on the first crash, after printing the crashing input (and, for the schedule
# target, the scenario file it wrote).
#
# FUZZ_SECONDS (default 5) is the time per target: with the 11 targets about 1 minute of
# fuzzing on top of the build. The build is one `cargo fuzz build` of every target in
# the light `dev` profile of fuzz/Cargo.toml (opt-level 1, no debug info); the targets
# then run straight from their binaries, with no cargo in between.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never
seconds="${FUZZ_SECONDS:-5}"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi

# The oracles' own tests (what counts as a user-facing error message, say).
cargo test --lib --quiet

# Safe Rust only (weft forbids unsafe code): AddressSanitizer would find nothing the
# panics do not, and without it the build is much shorter and the runs faster.
cargo +nightly fuzz build --sanitizer none --dev
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin="${CARGO_TARGET_DIR:-target}/$triple/debug"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
export WEFT_FUZZ_OUT="$scratch/schedule-failures"
for target in $(cargo +nightly fuzz list); do
  mkdir -p "$scratch/$target" "artifacts/$target"
  echo "fuzz: $target for ${seconds}s"
  if ! "$bin/$target" "$scratch/$target" "corpus/$target" \
      -artifact_prefix="$scratch/$target-" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 >"$scratch/$target.log" 2>&1; then
    cat "$scratch/$target.log"
    for input in "$scratch/$target"-*; do
      [ -e "$input" ] || continue
      cp "$input" "artifacts/$target/"
      echo "fuzz: $target failed on fuzz/artifacts/$target/$(basename "$input"):"
      od -A d -c "$input" | head -40
    done
    for file in "$WEFT_FUZZ_OUT"/*.toml; do
      [ -e "$file" ] || continue
      echo "fuzz: the failing scenario ($file):"
      cat "$file"
    done
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$scratch/$target.log" || true
done
