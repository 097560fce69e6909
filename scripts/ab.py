#!/usr/bin/env python3
"""Compare builds of swarm (or any commands) run after run, alternating their order, so that a
noisy machine's slow and fast minutes fall on all of them alike. Prints each one's median wall
time and median CPU time (user + system, from wait4), and the wall time's min, mean and max
(hyperfine reports means, which outliers move).

  scripts/ab.py N RESET TEMPLATE BIN1 BIN2 ...

N runs of each; RESET is a shell command run before every run ('-' for none); TEMPLATE is the
command, with {bin} replaced by each BIN. For example, the 10k claim of BENCHMARKS.md:

  scripts/ab.py 40 'bash scripts/bench.sh __reset DIR' \\
      '{bin} -C DIR/repo --tasks-dir DIR/tasks task claim --next --agent b -q' old/swarm new/swarm

and the 8 x 10 contention loop: TEMPLATE 'env SWARM_BIN={bin} bash scripts/bench.sh __claimers
swarm 8 10 DIR'. DIR is a fixture as scripts/bench.sh makes them (repo/, tasks/repo/status.json,
plan.orig).
"""
import os, shlex, statistics, subprocess, sys, time

n, reset, template, bins = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
results = {b: ([], []) for b in bins}
for i in range(n):
    for b in bins if i % 2 == 0 else bins[::-1]:
        if reset != '-':
            subprocess.run(reset, shell=True, check=True, stdout=subprocess.DEVNULL)
        start = time.perf_counter()
        p = subprocess.Popen(shlex.split(template.replace('{bin}', b)),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(p.pid, 0)
        results[b][0].append(time.perf_counter() - start)
        results[b][1].append(usage.ru_utime + usage.ru_stime)
for b, (wall, cpu) in results.items():
    print(f"{b}: wall median {statistics.median(wall) * 1000:.2f} ms, "
          f"cpu median {statistics.median(cpu) * 1000:.2f} ms, wall min {min(wall) * 1000:.2f} ms, "
          f"wall mean {statistics.mean(wall) * 1000:.2f} ms, slowest "
          f"{' '.join(f'{w * 1000:.1f}' for w in sorted(wall)[-5:])} ms")
