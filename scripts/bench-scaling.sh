#!/usr/bin/env bash
# Scaling benchmark (issue 9): wall time of `kubesim run` on a small and a
# large cluster of the same shape, interleaved in one session so machine
# noise hits both alike; medians of N runs (default 5). Writes a table to
# stdout; results/scaling.md records it with this command.
#
#   cargo build --release -j 2 && bash scripts/bench-scaling.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
bin=./target/release/kubesim
[ -x "$bin" ] || { echo "error: build first: cargo build --release -j 2" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A times events
for i in $(seq "$n"); do
  for s in idle-500 idle-5000 rs-500 rs-4000; do
    start=$(date +%s.%N)
    "$bin" run "scenarios/bench/$s.yaml" --out "$out/$s" > "$out/$s.log" 2>&1 || { cat "$out/$s.log" >&2; exit 1; }
    end=$(date +%s.%N)
    times[$s]+="$(echo "$end - $start" | bc) "
    events[$s]=$(grep -o '"events": [0-9]*' "$out/$s/summary.json" | grep -o '[0-9]*')
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf '| scenario | events | wall s (median of %s) | runs |\n|---|---:|---:|---|\n' "$n"
declare -A med
for s in idle-500 idle-5000 rs-500 rs-4000; do
  med[$s]=$(echo "${times[$s]}" | median)
  printf '| %s | %s | %.3f | %s|\n' "$s" "${events[$s]}" "${med[$s]}" "$(echo "${times[$s]}" | xargs printf '%.2f ')"
done
printf '\nidle 5,000 / 500 nodes: %.1fx (goal: within 12x)\n' "$(echo "${med[idle-5000]} / ${med[idle-500]}" | bc -l)"
printf 'ReplicaSet 4,000 pods on 134 nodes / 500 on 17: %.1fx (goal: within 12x)\n' "$(echo "${med[rs-4000]} / ${med[rs-500]}" | bc -l)"
