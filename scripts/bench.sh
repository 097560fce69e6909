#!/usr/bin/env bash
# Whole-process benchmarks of swarm against the old mechanism (seed-claim.sh with SEED_FIXED=1),
# in the same run, on plans written by gen-plan.py; both come from the anchors directory
# (ANCHORS, by default ../shared/anchors beside this repository).
#
#   scripts/bench.sh            # all scenarios; results in target/bench/ and a summary on stdout
#   QUICK=1 scripts/bench.sh    # fewer runs
#   ONLY=contention scripts/bench.sh   # one scenario (contention, claim-10k, big-100k, race-64)
#   SWARM_BIN=/path/to/swarm scripts/bench.sh   # another build of swarm
#
# Scenarios:
#   contention  8 concurrent claimers x 10 claims each on a 200-task flat plan
#   claim-10k   one claim on a 10,000-task plan
#   big-100k    `list --ready` and one claim on a 100,000-task plan (and the seed's claim)
#   race-64     64 concurrent claimers looping until exit 3 on a 1,000-task flat plan:
#               checks every task is claimed exactly once (swarm; the seed is timed too)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ANCHORS=${ANCHORS:-$ROOT/../shared/anchors}
SWARM=${SWARM_BIN:-$ROOT/target/release/swarm}
OUT=$ROOT/target/bench
RUNS=${RUNS:-10}
[ -n "${QUICK:-}" ] && RUNS=3

# --- internal: N concurrent claimers, each making up to CLAIMS claims (0 = until exit 3) ---
# --- internal: put fixture DIR back to its pristine state ---
if [ "${1:-}" = "__reset" ]; then
  d=$2
  cp "$d/plan.orig" "$d/tasks/repo/status.json"
  rm -rf "$d/repo/.claude-agents" "$d/seed-registry.json.lockdir" "$d/out" "$d/seed-out"
  echo '{"agents":{},"claimedTasks":{}}' > "$d/seed-registry.json"
  "$SWARM" -C "$d/repo" --tasks-dir "$d/tasks" setup -q
  exit 0
fi

if [ "${1:-}" = "__claimers" ]; then
  impl=$2; procs=$3; claims=$4; dir=$5; outdir=${6:-}
  [ -n "$outdir" ] && mkdir -p "$outdir"
  claimer() {
    local p=$1 n=0 rc out=/dev/null
    [ -n "$outdir" ] && out=$outdir/$p
    while :; do
      rc=0
      if [ "$impl" = swarm ]; then
        "$SWARM" -C "$dir/repo" --tasks-dir "$dir/tasks" task claim --next --agent "bench-$p" -q >>"$out" 2>/dev/null || rc=$?
      else
        SEED_FIXED=1 bash "$ANCHORS/seed-claim.sh" "$dir/tasks/repo" "$dir/seed-registry.json" >>"$out" 2>/dev/null || rc=$?
      fi
      [ "$rc" = 0 ] || break
      n=$((n + 1))
      if [ "$claims" != 0 ] && [ "$n" -ge "$claims" ]; then break; fi
    done
  }
  for p in $(seq 1 "$procs"); do claimer "$p" & done
  wait
  exit 0
fi

need() { command -v "$1" >/dev/null 2>&1; }
if ! need hyperfine; then
  echo "hyperfine is missing; installing it (apt-get install -y hyperfine)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null
  else sudo apt-get install -y hyperfine; fi
fi
need jq || { echo "jq is needed by the seed mechanism" >&2; exit 1; }
need python3 || { echo "python3 is needed by gen-plan.py" >&2; exit 1; }

(cd "$ROOT" && cargo build --release --locked -q)
rm -rf "$OUT"; mkdir -p "$OUT"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

# A fixture: repo + plan of N tasks (extra args to gen-plan.py), plus pristine copies to reset.
fixture() {
  local name=$1; shift
  local d=$WORK/$name
  mkdir -p "$d/tasks/repo"
  git init -q "$d/repo" && git -C "$d/repo" -c user.name=b -c user.email=b@b commit -q --allow-empty -m init
  python3 "$ANCHORS/gen-plan.py" "$@" > "$d/plan.orig"
  "$SWARM" -C "$d/repo" --tasks-dir "$d/tasks" plan validate "$d/plan.orig" -q
  echo "$d"
}
reset_cmd() { # the hyperfine --prepare command for fixture dir $1
  echo "bash $0 __reset $1"
}
bench() { # name, then hyperfine args
  local name=$1; shift
  hyperfine -N --style basic --export-json "$OUT/$name.json" --export-markdown "$OUT/$name.md" "$@" >&2
}
mean() { jq -r ".results[$2].mean" "$OUT/$1.json"; }
median() { jq -r ".results[$2].median" "$OUT/$1.json"; }
ratio() { python3 -c "print(f'{$1 / $2:.1f}')"; }

want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
summary=()

if want contention; then
echo "== contention: 8 claimers x 10 claims, 200-task flat plan" >&2
C=$(fixture contention 200 --flat)
bench contention -r "$RUNS" -w 1 --prepare "$(reset_cmd "$C")" \
  -n swarm "bash $0 __claimers swarm 8 10 $C" \
  -n seed-fixed "bash $0 __claimers seed 8 10 $C"

sw=$(mean contention 0); sd=$(mean contention 1)
sw_med=$(median contention 0); sd_med=$(median contention 1)
summary+=("contention (8x10 claims, 200 tasks): swarm $(python3 -c "print(f'{80/$sw:.0f}')") claims/s, seed-fixed $(python3 -c "print(f'{80/$sd:.1f}')") claims/s -> $(ratio "$sd" "$sw")x the throughput (medians: $(ratio "$sd_med" "$sw_med")x; floor 10x)")
fi

if want claim-10k; then
echo "== one claim, 10k-task plan" >&2
K=$(fixture k10 10000)
bench claim-10k -r "$RUNS" -w 1 --prepare "$(reset_cmd "$K")" \
  -n swarm "$SWARM -C $K/repo --tasks-dir $K/tasks task claim --next --agent b -q" \
  -n seed-fixed "bash -c 'SEED_FIXED=1 bash $ANCHORS/seed-claim.sh $K/tasks/repo $K/seed-registry.json'"

k_sw=$(mean claim-10k 0); k_sd=$(mean claim-10k 1)
k_sw_med=$(median claim-10k 0); k_sd_med=$(median claim-10k 1)
summary+=("one claim, 10k tasks: swarm $(python3 -c "print(f'{$k_sw*1000:.1f}')") ms, seed-fixed $(python3 -c "print(f'{$k_sd*1000:.1f}')") ms -> $(ratio "$k_sd" "$k_sw")x faster (medians: $(python3 -c "print(f'{$k_sw_med*1000:.1f}')") against $(python3 -c "print(f'{$k_sd_med*1000:.1f}')") ms, $(ratio "$k_sd_med" "$k_sw_med")x; floor 4x)")
fi

if want big-100k; then
echo "== 100k-task plan: list --ready, one claim" >&2
B=$(fixture big 100000)
bench big-100k -r "$RUNS" -w 1 --prepare "$(reset_cmd "$B")" \
  -n "swarm list --ready" "$SWARM -C $B/repo --tasks-dir $B/tasks list --ready -q" \
  -n "swarm claim" "$SWARM -C $B/repo --tasks-dir $B/tasks task claim --next --agent b -q" \
  -n "seed-fixed claim" "bash -c 'SEED_FIXED=1 bash $ANCHORS/seed-claim.sh $B/tasks/repo $B/seed-registry.json'"

b_list=$(mean big-100k 0); b_claim=$(mean big-100k 1); b_seed=$(mean big-100k 2)
summary+=("100k tasks: list --ready $(python3 -c "print(f'{$b_list*1000:.0f}')") ms, claim $(python3 -c "print(f'{$b_claim*1000:.0f}')") ms (seed-fixed claim $(python3 -c "print(f'{$b_seed*1000:.0f}')") ms; floor: each under 500 ms)")
fi

if want race-64; then
echo "== race: 64 claimers until exit 3, 1000-task flat plan" >&2
R=$(fixture race 1000 --flat)
bench race-64 -r 2 --prepare "$(reset_cmd "$R")" \
  -n swarm "bash $0 __claimers swarm 64 0 $R $R/out"
# Check the last run: every task claimed exactly once.
claimed=$(cat "$R"/out/* | wc -l); distinct=$(cat "$R"/out/* | sort -u | wc -l)
[ "$claimed" = 1000 ] && [ "$distinct" = 1000 ] || { echo "race-64: $claimed claims, $distinct distinct (want 1000/1000)" >&2; exit 1; }
in_registry=$(jq '.claimedTasks | length' "$R/repo/.claude-agents/task-registry.json")
[ "$in_registry" = 1000 ] || { echo "race-64: registry holds $in_registry claims" >&2; exit 1; }
bench race-64-seed -r 1 --prepare "$(reset_cmd "$R")" \
  -n seed-fixed "bash $0 __claimers seed 64 0 $R $R/seed-out"
seed_claimed=$(cat "$R"/seed-out/* | wc -l); seed_distinct=$(cat "$R"/seed-out/* | sort -u | wc -l)

r_sw=$(mean race-64 0); r_sd=$(mean race-64-seed 0)
summary+=("race (64 claimers until empty, 1000 tasks): swarm $(python3 -c "print(f'{$r_sw:.1f}')") s, 1000 claims, 1000 distinct; seed-fixed $(python3 -c "print(f'{$r_sd:.1f}')") s, $seed_claimed claims, $seed_distinct distinct")
fi

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); $("$SWARM" --version)"
printf '%s\n' "${summary[@]}"
