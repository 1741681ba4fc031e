#!/usr/bin/env bash
# Measures which sweep or scenario catches each planted bug (src/mutants.rs)
# and writes results/bug-finding.md. Usage: scripts/bug-finding.sh [SEEDS]
# (default 1000 seeds per swarm). Needs only the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-1000}
cargo build --release -j 2 --features mutants --target-dir target/mutants >&2
bin=target/mutants/release/kubesim
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mutants=$(sed -n 's/^    ("\([a-z0-9-]*\)", "\(.*\)"),$/\1/p' src/mutants.rs)
fixed=$(ls scenarios/*.yaml | grep -v -e live- -e swarm- -e sweep-)
out=results/bug-finding.md
{
  echo "# Planted bugs: which sweep catches each"
  echo
  echo "Command: \`scripts/bug-finding.sh $seeds\` ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD))."
  echo "Each bug is a switch in src/mutants.rs (built only with \`--features mutants\`, chosen with"
  echo "\`KUBESIM_MUTANT=<name>\`). For each: the fixed shipped scenarios, each with its own seed;"
  echo "then \`kubesim sweep --fail-fast\` of scenarios/swarm-ci.yaml and scenarios/swarm-workload.yaml"
  echo "over seeds 1..$seeds. *Seeds* is how many seeds the first catching sweep ran (its first"
  echo "failing seed). Replay with \`KUBESIM_MUTANT=<name> target/mutants/release/kubesim run …\`."
  echo
  echo "| planted bug | what it gets wrong | caught by | seeds | first violation | replay |"
  echo "|---|---|---|---|---|---|"
} > "$out.tmp"
caught=0; total=0
for m in $mutants; do
  total=$((total + 1))
  what=$(sed -n "s/^    (\"$m\", \"\(.*\)\"),\$/\1/p" src/mutants.rs)
  row=""
  for s in $fixed; do
    if ! KUBESIM_MUTANT=$m $bin run "$s" --out "$work/run" > "$work/log" 2>&1; then
      v=$(grep -m1 '^FAILED' "$work/log" | sed 's/^FAILED: //; s/|/\\|/g' | cut -c1-110)
      seed=$(sed -n 's/^seed: //p' "$work/log" | head -1)
      row="| $m | $what | $s (fixed) | 1 | $v | \`KUBESIM_MUTANT=$m kubesim run $s --seed $seed\` |"
      break
    fi
  done
  if [ -z "$row" ]; then
    for s in scenarios/swarm-ci.yaml scenarios/swarm-workload.yaml; do
      if ! KUBESIM_MUTANT=$m $bin sweep "$s" --seeds "1..$seeds" --fail-fast --out "$work/sweep" > "$work/log" 2>&1; then
        seed=$(sed -n 's/^first failing seed: //p' "$work/log")
        v=$(awk -F, -v s="$seed" '$1==s {print}' "$work/sweep/sweep.csv" | python3 -c 'import csv,sys; r=next(csv.reader(sys.stdin)); print(r[6][:110].replace("|","\\|"))')
        row="| $m | $what | $s | $seed | $v | \`KUBESIM_MUTANT=$m kubesim run $s --seed $seed\` |"
        break
      fi
    done
  fi
  if [ -z "$row" ]; then
    row="| $m | $what | **not caught** | — | — | — |"
  else
    caught=$((caught + 1))
  fi
  echo "$row" >> "$out.tmp"
  echo "$m: ${row:0:160}" >&2
done
{
  echo
  echo "**$caught of $total caught** within $seeds seeds of each swarm."
} >> "$out.tmp"
mv "$out.tmp" "$out"
echo "$caught of $total caught; $out" >&2
