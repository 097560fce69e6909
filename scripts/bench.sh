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
#   land-30k    `task done` landing a task (merge of the integration branch + compare-and-swap,
#               no verify command) on a 30,000-file repository, against the same merge and
#               ref update done with plain git
#   conflicts-8 `swarm conflicts` for 8 live agents' branches on a 30,000-file repository
#   worktree-30k `swarm launch --no-exec` (claim, branch, worktree) against `git worktree add -b`
#               on a 30,000-file repository
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

# A repository of 30,000 files (300 folders of 100), one commit; its path on stdout.
big_repo() {
  local d=$WORK/$1
  mkdir -p "$d/tasks/repo"
  git init -q -b main "$d/repo"
  python3 - "$d/repo" <<'PY'
import os, sys
root = sys.argv[1]
for i in range(300):
    os.makedirs(f"{root}/src/m{i:03}", exist_ok=True)
    for j in range(100):
        with open(f"{root}/src/m{i:03}/f{j:03}.txt", "w") as f:
            f.write(f"module {i} file {j}\n" * 20)
PY
  git -C "$d/repo" add -A
  git -C "$d/repo" -c user.name=b -c user.email=b@b commit -q -m "30,000 files"
  echo "$d"
}
# An agent launched with --no-exec on the fixture in $1: "agent-id worktree" on stdout.
no_exec_agent() {
  "$SWARM" -C "$1/repo" --tasks-dir "$1/tasks" launch --no-exec --json --agent-cmd true 2>/dev/null \
    | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["agent"], v["worktree"])'
}
# Commits a change to file $2 (relative) in worktree $1.
change() {
  echo "changed by $(basename "$1")" >> "$1/$2"
  git -C "$1" -c user.name=b -c user.email=b@b commit -q -am "change $2"
}

if want land-30k; then
echo "== land: task done (merge + compare-and-swap, no verify), 30,000-file repository" >&2
L=$(big_repo land)
cat > "$L/tasks/repo/status.json" <<'JSON'
{"coordination": {"integration": {}}, "tasks": {"a": {"title": "a"}, "b": {"title": "b"}}}
JSON
"$SWARM" -C "$L/repo" --tasks-dir "$L/tasks" setup -q
read -r A AW < <(no_exec_agent "$L"); read -r B BW < <(no_exec_agent "$L")
change "$AW" src/m000/f000.txt; change "$BW" src/m299/f099.txt
"$SWARM" -C "$BW" --tasks-dir "$L/tasks" task done b --agent "$B" -q
TIP=$(git -C "$L/repo" rev-parse swarm/repo); AT=$(git -C "$AW" rev-parse HEAD)
cp "$L/tasks/repo/status.json" "$L/plan.saved"; cp "$L/repo/.claude-agents/task-registry.json" "$L/registry.saved"
cat > "$L/reset.sh" <<SH
cp "$L/plan.saved" "$L/tasks/repo/status.json"; cp "$L/registry.saved" "$L/repo/.claude-agents/task-registry.json"
git -C "$L/repo" update-ref refs/heads/swarm/repo $TIP; git -C "$AW" reset -q --hard $AT
SH
bench land-30k -r "$RUNS" -w 1 --prepare "bash $L/reset.sh" \
  -n "swarm task done" "$SWARM -C $AW --tasks-dir $L/tasks task done a --agent $A -q" \
  -n "git merge + update-ref" "bash -c 'git -C $AW -c user.name=b -c user.email=b@b merge -q --no-edit $TIP && git -C $L/repo update-ref refs/heads/swarm/repo \$(git -C $AW rev-parse HEAD) $TIP'"
l_sw=$(mean land-30k 0); l_git=$(mean land-30k 1)
summary+=("land (30,000 files, merge + CAS, no verify): swarm task done $(python3 -c "print(f'{$l_sw*1000:.0f}')") ms, plain git merge + update-ref $(python3 -c "print(f'{$l_git*1000:.0f}')") ms -> $(ratio "$l_sw" "$l_git")x")
fi

if want conflicts-8; then
echo "== conflicts: 8 live agents' branches, 30,000-file repository" >&2
F=$(big_repo conflicts)
python3 - > "$F/tasks/repo/status.json" <<'PY'
import json
print(json.dumps({"coordination": {"integration": {}},
                  "tasks": {f"t{i}": {"title": f"t{i}"} for i in range(8)}}))
PY
"$SWARM" -C "$F/repo" --tasks-dir "$F/tasks" setup -q
for i in 0 1 2 3 4 5 6 7; do
  read -r _ W < <(no_exec_agent "$F")
  # Agents 0 and 1 change the same file (one conflicting pair); each changes 20 files of its own.
  change "$W" "src/m$(printf %03d $((i < 2 ? 0 : i)))/f000.txt"
  for j in $(seq 1 20); do echo "agent $i" >> "$W/src/m$(printf %03d $((100 + i)))/f$(printf %03d "$j").txt"; done
  git -C "$W" -c user.name=b -c user.email=b@b commit -q -am "agent $i work"
done
pairs=$("$SWARM" -C "$F/repo" --tasks-dir "$F/tasks" conflicts --json | jq '.conflicts | length')
[ "$pairs" = 1 ] || { echo "conflicts-8: $pairs conflicting pairs (want 1)" >&2; exit 1; }
bench conflicts-8 -r "$RUNS" -w 1 \
  -n "swarm conflicts" "$SWARM -C $F/repo --tasks-dir $F/tasks conflicts --json -q"
c_sw=$(mean conflicts-8 0)
summary+=("conflicts (8 live branches + integration, 30,000 files): $(python3 -c "print(f'{$c_sw*1000:.0f}')") ms, 1 conflicting pair found (floor: under 1 s)")
fi

if want worktree-30k; then
echo "== worktree creation: swarm launch --no-exec vs git worktree add, 30,000-file repository" >&2
W=$(big_repo worktree)
echo '{"tasks": {"a": {"title": "a"}}}' > "$W/tasks/repo/status.json"
"$SWARM" -C "$W/repo" --tasks-dir "$W/tasks" setup -q
cp "$W/tasks/repo/status.json" "$W/plan.saved"; cp "$W/repo/.claude-agents/task-registry.json" "$W/registry.saved"
cat > "$W/reset.sh" <<SH
rm -rf "$W"/repo-agent-* "$W/gitwt"
git -C "$W/repo" worktree prune
git -C "$W/repo" for-each-ref --format='%(refname:short)' refs/heads/work refs/heads/gitwt | xargs -r git -C "$W/repo" branch -q -D
cp "$W/plan.saved" "$W/tasks/repo/status.json"; cp "$W/registry.saved" "$W/repo/.claude-agents/task-registry.json"
# The deleted worktree's blocks are freed (and discarded) now, not during the next run.
sync; sleep 1
SH
bash "$W/reset.sh"
bench worktree-30k -r "$RUNS" -w 1 --prepare "bash $W/reset.sh" \
  -n "swarm launch --no-exec" "$SWARM -C $W/repo --tasks-dir $W/tasks launch --no-exec --agent-cmd true -q" \
  -n "git worktree add" "git -C $W/repo worktree add -q $W/gitwt -b gitwt"
w_sw=$(mean worktree-30k 0); w_git=$(mean worktree-30k 1)
w_sw_med=$(median worktree-30k 0); w_git_med=$(median worktree-30k 1)
summary+=("worktree creation (30,000 files): swarm launch --no-exec $(python3 -c "print(f'{$w_sw*1000:.0f}')") ms, git worktree add $(python3 -c "print(f'{$w_git*1000:.0f}')") ms -> $(ratio "$w_sw" "$w_git")x (medians $(python3 -c "print(f'{$w_sw_med / $w_git_med:.2f}')")x; target <= 1.1x)")
fi

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); $("$SWARM" --version)"
printf '%s\n' "${summary[@]}"
