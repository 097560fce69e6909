//! Library speed on large plans: loading, readiness and next-task selection on 100k tasks.
//! Whole-process figures (with the seed mechanism beside them) come from scripts/bench.sh.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::Path;
use swarm::plan::Plan;
use swarm::scheduler;

/// A plan like `gen-plan.py N 5`: five phases, each task blocked by up to two of the phase before.
fn plan_json(n: usize) -> String {
    let phases = 5;
    let mut out = String::from("{\"tasks\": {");
    let mut state: u64 = 7;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..n {
        let ph = i * phases / n;
        let prev_start = (ph.max(1) - 1) * n / phases;
        let prev_len = n / phases;
        let blockers: Vec<String> = if ph == 0 {
            Vec::new()
        } else {
            (0..2)
                .map(|_| {
                    format!(
                        "\"phase-{}/task-{:06}\"",
                        ph - 1,
                        prev_start + (next() as usize) % prev_len
                    )
                })
                .collect()
        };
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "\"phase-{ph}/task-{i:06}\": {{\"title\": \"Task {i}\", \"status\": \"pending\", \"blockedBy\": [{}]}}",
            blockers.join(", ")
        ));
    }
    out.push_str("}}");
    out
}

fn benches(c: &mut Criterion) {
    let text = plan_json(100_000);
    let path = Path::new("status.json");
    let plan = Plan::parse(path, &text).expect("generated plan is valid");
    let mut group = c.benchmark_group("100k tasks");
    group.sample_size(10);
    group.bench_function("parse and validate", |b| {
        b.iter(|| Plan::parse(path, black_box(&text)).expect("valid"))
    });
    group.bench_function("readiness", |b| {
        b.iter(|| scheduler::readiness(black_box(&plan), |_| false))
    });
    let ready = scheduler::readiness(&plan, |_| false);
    group.bench_function("pick next", |b| {
        b.iter(|| scheduler::pick_next(black_box(&plan), black_box(&ready), &[]))
    });
    group.finish();
}

criterion_group!(scheduling, benches);
criterion_main!(scheduling);
