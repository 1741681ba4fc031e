#!/usr/bin/env bash
# Scaling benchmark (issue 9): the cost of `kubesim run` (the whole command:
# load, simulate, write every output) on a small and a large cluster of the
# same shape, interleaved in one session so machine noise hits both alike;
# medians of N runs (default 5) of CPU time (user + sys: what the run
# consumed, robust to the VM being descheduled) and of wall time. Writes a
# table to stdout; results/scaling.md records it with this command.
#
#   cargo build --release -j 2 && bash scripts/bench-scaling.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
bin=./target/release/kubesim
[ -x "$bin" ] || { echo "error: build first: cargo build --release -j 2" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A times cpus events
for i in $(seq "$n"); do
  for s in idle-500 idle-5000 rs-500 rs-4000; do
    /usr/bin/time -o "$out/$s.time" -f "%e %U %S" "$bin" run "scenarios/bench/$s.yaml" --out "$out/$s" > "$out/$s.log" 2>&1 || { cat "$out/$s.log" >&2; exit 1; }
    read -r wall user sys < "$out/$s.time"
    times[$s]+="$wall "
    cpus[$s]+="$(echo "$user + $sys" | bc) "
    events[$s]=$(grep -o '"events": [0-9]*' "$out/$s/summary.json" | grep -o '[0-9]*')
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf '| scenario | events | CPU s (median of %s) | wall s (median) | CPU s, each run |\n|---|---:|---:|---:|---|\n' "$n"
declare -A med wmed
for s in idle-500 idle-5000 rs-500 rs-4000; do
  med[$s]=$(echo "${cpus[$s]}" | median)
  wmed[$s]=$(echo "${times[$s]}" | median)
  printf '| %s | %s | %.3f | %.3f | %s|\n' "$s" "${events[$s]}" "${med[$s]}" "${wmed[$s]}" "$(echo "${cpus[$s]}" | xargs printf '%.2f ')"
done
ratio() { echo "$1 / $2" | bc -l; }
printf '\nidle 5,000 / 500 nodes: %.1fx CPU, %.1fx wall (goal: within 12x)\n' "$(ratio "${med[idle-5000]}" "${med[idle-500]}")" "$(ratio "${wmed[idle-5000]}" "${wmed[idle-500]}")"
printf 'ReplicaSet 4,000 pods on 134 nodes / 500 on 17: %.1fx CPU, %.1fx wall (goal: within 12x)\n' "$(ratio "${med[rs-4000]}" "${med[rs-500]}")" "$(ratio "${wmed[rs-4000]}" "${wmed[rs-500]}")"

# Instructions executed (valgrind's callgrind): the same count for the same
# binary and input whatever else the machine is doing, so the ratio is exact.
if [ "${INSTRUCTIONS:-1}" = 1 ] && command -v valgrind >/dev/null; then
  declare -A ins
  for s in idle-500 idle-5000 rs-500 rs-4000; do
    ins[$s]=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" run "scenarios/bench/$s.yaml" --out "$out/$s" 2>&1 >/dev/null | grep -o 'Collected : [0-9]*' | grep -o '[0-9]*')
  done
  printf '\n| scenario | instructions |\n|---|---:|\n'
  for s in idle-500 idle-5000 rs-500 rs-4000; do printf '| %s | %s |\n' "$s" "${ins[$s]}"; done
  printf '\nidle 5,000 / 500 nodes: %.2fx instructions\n' "$(ratio "${ins[idle-5000]}" "${ins[idle-500]}")"
  printf 'ReplicaSet 4,000 pods on 134 nodes / 500 on 17: %.2fx instructions\n' "$(ratio "${ins[rs-4000]}" "${ins[rs-500]}")"
fi
