#!/usr/bin/env bash
# Peak memory of `reachcheck check` on 1,000,000 routes, per output format (issue 14 item 3:
# target ≤ 400 MB peak resident set size).
#
# Builds the release binary and the input (the demo scaled up by the `check-memory-case`
# example, cached in target/bench-check-memory/ROUTES/), then runs
#
#   reachcheck check --config /dev/null --policies policies --routes routes.csv \
#     --snapshot snapshot --now 2026-11-21T06:00:00Z --format FORMAT -o out.FORMAT
#
# under `/usr/bin/time -v` for each format and prints the maximum resident set size, the
# wall time and the exit code (1 is expected: the demo has routes nobody can read).
# Not a test and not in CI: a measurement.
#
# Usage: benches/check_memory.sh [FORMAT...]      (default: table json csv markdown)
# Environment: ROUTES (1000000), KEEP=1 keeps the rendered outputs.
set -euo pipefail

cd "$(dirname "$0")/.."
routes=${ROUTES:-1000000}
formats=("$@")
[ ${#formats[@]} -gt 0 ] || formats=(table json csv markdown)
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time: apt-get install time)" >&2; exit 2; }

cargo build --release --locked --quiet --bin reachcheck --example check-memory-case
case_dir=target/bench-check-memory/$routes
if [ ! -f "$case_dir/complete" ]; then
    rm -rf "$case_dir"
    mkdir -p "$(dirname "$case_dir")"
    target/release/examples/check-memory-case --out "$case_dir" --routes "$routes"
    touch "$case_dir/complete"
fi

echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %12s %9s %5s %12s\n' format peak_rss_mb wall_s exit output_mb
for f in "${formats[@]}"; do
    out=$case_dir/out.$f
    log=$case_dir/time.$f.log
    set +e
    /usr/bin/time -v -o "$log" target/release/reachcheck check --config /dev/null \
        --policies policies --routes "$case_dir/routes.csv" --snapshot "$case_dir/snapshot" \
        --now 2026-11-21T06:00:00Z --format "$f" -o "$out" 2>"$case_dir/stderr.$f.log"
    code=$?
    set -e
    rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$log")
    wall=$(awk '/Elapsed \(wall clock\)/ {print $NF}' "$log")
    size=$(stat -c %s "$out" 2>/dev/null || echo 0)
    awk -v f="$f" -v rss="$rss_kb" -v wall="$wall" -v code="$code" -v size="$size" \
        'BEGIN { printf "%-9s %12.1f %9s %5s %12.1f\n", f, rss / 1024, wall, code, size / 1048576 }'
    [ "${KEEP:-0}" = 1 ] || rm -f "$out"
done
