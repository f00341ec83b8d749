#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, one worker at a time, and
# prints executions, coverage and crashes per target.
#
#   fuzz/run.sh SECONDS [TARGET...]        targets: reader explain containers extract
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); works on stable Rust (`-s none`: no
# sanitizer, only libFuzzer's coverage instrumentation). Debug assertions are on, so an
# arithmetic overflow is a crash as it is in `cargo test`. The seed corpora are rebuilt
# from fixtures/ by seed_corpus.py and grow across runs (fuzz/corpus, not committed);
# pickle.dict gives libFuzzer the opcodes, globals and magics worth splicing in.
# libFuzzer runs in fork mode with one job and keeps going after a crash, a timeout
# (-timeout, seconds per input) or an out-of-memory (-rss_limit_mb); each such input is
# saved under fuzz/artifacts/TARGET/ (crash-*, timeout-*, oom-*). Reproduce one with
#   fuzz/target/x86_64-unknown-linux-gnu/release/TARGET fuzz/artifacts/TARGET/crash-…
# and turn it into a regression test under tests/ once fixed.
set -euo pipefail
cd "$(dirname "$0")"

if [[ $# -lt 1 || ! "$1" =~ ^[0-9]+$ ]]; then
    echo "usage: fuzz/run.sh SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(reader explain containers extract)
fi

triple=$(rustc -vV | sed -n 's/^host: //p')
mkdir -p artifacts
nice -n 10 cargo fuzz build -s none --debug-assertions --release >/dev/null 2>artifacts/build.log \
    || { cat artifacts/build.log >&2; exit 2; }
python3 seed_corpus.py

summary=()
for target in "${targets[@]}"; do
    mkdir -p "artifacts/$target" "corpus/$target"
    log="artifacts/$target/run-$(date +%Y%m%d-%H%M%S).log"
    before=$(find "artifacts/$target" -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' | wc -l)
    nice -n 10 "target/$triple/release/$target" \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=131072 \
        -dict=pickle.dict \
        -artifact_prefix="artifacts/$target/" "corpus/$target" >"$log" 2>&1 || true
    after=$(find "artifacts/$target" -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' | wc -l)
    # Fork mode's status lines: "#EXECS: cov: N ft: N corp: N exec/s N oom/timeout/crash: a/b/c …"
    last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1 || true)
    execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
    cov=$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$last")
    ft=$(sed -E 's/.* ft: ([0-9]+).*/\1/' <<<"$last")
    corp=$(sed -E 's/.* corp: ([0-9]+).*/\1/' <<<"$last")
    otc=$(sed -E 's#.*oom/timeout/crash: ([0-9]+/[0-9]+/[0-9]+).*#\1#' <<<"$last")
    line=$(printf '%-11s %6ss  execs %-10s cov %-6s ft %-7s corpus %-6s oom/timeout/crash %-9s new artifacts %s' \
        "$target" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${otc:-?}" "$((after - before))")
    echo "$line"
    summary+=("$line")
done
echo
echo "summary ($seconds s per target; logs and artifacts in fuzz/artifacts/TARGET/):"
printf '%s\n' "${summary[@]}"
