#!/usr/bin/env bash
# The bounded fuzz step of CI: every target for a fixed time, starting from the seeds
# in fuzz/corpus/ (left untouched: what the run finds goes to a scratch directory).
# Fails on the first crash, after printing the crashing input.
#
# FUZZ_SECONDS (default 10) is the time per target. With the 10 targets that is about
# 2 minutes of fuzzing on top of the build.
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TERM_COLOR=never
seconds="${FUZZ_SECONDS:-10}"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi

# Safe Rust only (weft forbids unsafe code): AddressSanitizer would find nothing the
# panics do not, and without it the build is much shorter and the runs faster.
fuzz=(cargo +nightly fuzz)
build_flags=(--sanitizer none)
"${fuzz[@]}" build "${build_flags[@]}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in $("${fuzz[@]}" list); do
  mkdir -p "$scratch/$target" "artifacts/$target"
  touch "$scratch/$target.start"
  echo "fuzz: $target for ${seconds}s"
  if ! "${fuzz[@]}" run "${build_flags[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$scratch/$target.log" 2>&1; then
    cat "$scratch/$target.log"
    # Only what this run wrote, not older local artifacts.
    find "artifacts/$target" -type f -newer "$scratch/$target.start" | while read -r input; do
      echo "fuzz: $target failed on fuzz/$input:"
      od -A d -c "$input" | head -40
    done
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$scratch/$target.log" || true
done
