//! Micro-benchmark of each compiler stage, so that a slowdown points at its stage.
//!
//! `cargo bench --bench stages` (or `bench/run`, which includes its table). Plain
//! `std::time::Instant` loops instead of criterion: no extra dependency to build on a
//! 2-core machine, and a median over batches is all a regression check needs here.
//!
//! Workloads: the largest corpus workflow that compiles (by file size, found under
//! `$SFLOW_CORPUS` or `../shared/corpus/self_contained`), and a generated 1000-replica
//! sweep (4 nodes x 8 GPUs, a server and a sequential 10x10x10 bench sweep), which
//! weighs on the per-replica paths (`SFLOW_BENCH_SWEEP_N=n` for n³ replicas instead).
//!
//! Each stage gets the previous stages' output, built once. `resolve+expand` makes a
//! fresh `Env` every iteration (the resolver memoises variables in it); `place` and
//! `lower` reuse one `Env` that has already run `expand`, as `sflow::plan` does.

use sflow::{Request, emit, expand, lower, place, resolve, syntax};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Batches per stage; the median batch gives the reported time per iteration.
const BATCHES: usize = 11;
/// Each batch runs at least this long, so short stages are timed over many calls.
const BATCH_TIME: Duration = Duration::from_millis(25);

struct Row {
    stage: &'static str,
    median: Duration,
    min: Duration,
    iters: u64,
}

/// Times `f`: calibrates a batch size, then returns the median and fastest time per
/// call over BATCHES batches.
fn measure(stage: &'static str, mut f: impl FnMut()) -> Row {
    f(); // warm-up
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed() >= BATCH_TIME || iters >= 1 << 20 {
            break;
        }
        iters *= 2;
    }
    let mut per_call: Vec<Duration> = (0..BATCHES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed() / iters as u32
        })
        .collect();
    per_call.sort();
    Row {
        stage,
        median: per_call[BATCHES / 2],
        min: per_call[0],
        iters,
    }
}

fn bench(label: &str, request: &Request) -> Vec<Row> {
    let mut rows = Vec::new();
    // Check that the whole pipeline succeeds before timing parts of it.
    let out = sflow::plan(request);
    let Some(full_plan) = out.plan.as_ref() else {
        panic!("{label} does not compile:\n{}", out.render_diagnostics());
    };
    rows.push(measure("load", || {
        black_box(sflow::load_tree(black_box(request)));
    }));
    let (sources, root, _) = sflow::load_tree(request);
    let root = root.expect("loaded");
    rows.push(measure("syntax", || {
        black_box(syntax::read(black_box(&root), &sources));
    }));
    let wf = syntax::read(&root, &sources).0.expect("syntax");
    rows.push(measure("resolve+expand", || {
        let env = resolve::Env::new(&wf, &sources, request.nodes);
        black_box(expand::expand(&env, black_box(&wf)));
        black_box(env.take_diagnostics());
    }));
    let env = resolve::Env::new(&wf, &sources, request.nodes);
    let x = expand::expand(&env, &wf).expect("expand");
    rows.push(measure("place", || {
        black_box(place::place(&env, black_box(&x)));
        black_box(env.take_diagnostics());
    }));
    let placements = place::place(&env, &x).expect("place");
    rows.push(measure("lower", || {
        black_box(lower::lower(
            &env,
            &wf,
            black_box(&x),
            &placements,
            &request.options,
        ));
        black_box(env.take_diagnostics());
    }));
    let plan = lower::lower(&env, &wf, &x, &placements, &request.options).expect("lower");
    let provenance = sflow::provenance(request);
    rows.push(measure("emit", || {
        black_box(emit::render(black_box(&plan), &provenance));
    }));
    let script_len = sflow::script(request, full_plan).len();
    rows.push(measure("total (plan + script)", || {
        let out = sflow::plan(black_box(request));
        black_box(sflow::script(request, out.plan.as_ref().expect("plan")));
    }));
    println!(
        "\n### {label} ({} tasks, {script_len} script bytes)\n",
        full_plan.tasks.len()
    );
    println!("| stage | median per call | fastest | calls per batch |");
    println!("|---|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} |",
            r.stage,
            fmt(r.median),
            fmt(r.min),
            r.iters
        );
    }
    rows
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

fn request(name: String, text: String) -> Request {
    Request {
        files: vec![(name, text)],
        ..Request::default()
    }
}

/// The largest self-contained corpus workflow that compiles without errors.
fn largest_corpus_workflow() -> Option<(PathBuf, String)> {
    let root = std::env::var_os("SFLOW_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let mut files = Vec::new();
    collect_yaml(&root.join("self_contained"), &mut files);
    files.sort_by_key(|(path, text)| (std::cmp::Reverse(text.len()), path.clone()));
    files.into_iter().find(|(path, text)| {
        sflow::plan(&request(path.display().to_string(), text.clone()))
            .plan
            .is_some()
    })
}

fn collect_yaml(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            out.push((path, text));
        }
    }
}

/// The sweep workload of bench/run: 3 variables with `n` values each.
fn sweep(n: usize) -> String {
    let domain = |base: usize| {
        (0..n)
            .map(|i| (base + i).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        r#"version: "0.1"
variables:
  A:
    value: 100000
    domain: [{a}]
  B:
    value: 200000
    domain: [{b}]
  C:
    value: 300000
    domain: [{c}]
backends:
  - name: cluster
    type: slurm
    nodes: 4
    gpus_per_node: 8
    account: acct
    partition: part
    time: "01:00:00"
workflow:
  name: sweep_{n}
  tasks:
    - name: server
      resources:
        nodes:
          indices: [0]
        gpus:
          count: 4
      script:
        - python3 -m http.server 8000
      probes:
        readiness:
          tcp_port:
            port: 8000
    - name: bench
      depends_on: [server]
      replicas:
        variables: [A, B, C]
        policy: sequential
      resources:
        nodes:
          indices: [1]
      script:
        - echo "bench A=$A B=$B C=$C"
"#,
        a = domain(100000),
        b = domain(200000),
        c = domain(300000),
    )
}

fn main() {
    // `cargo bench` passes `--bench`; a plain word filters the workloads by label.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |label: &str| filter.is_empty() || filter.iter().any(|f| label.contains(f));
    println!("## Compiler stages (median of {BATCHES} batches of >= {BATCH_TIME:?})");
    match largest_corpus_workflow() {
        Some((path, text)) => {
            let label = format!(
                "corpus: {}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            if wanted(&label) {
                bench(&label, &request(path.display().to_string(), text));
            }
        }
        None => println!("\n(no corpus found: set SFLOW_CORPUS to the corpus directory)"),
    }
    // SFLOW_BENCH_SWEEP_N=n times the sweep with n values per variable (n³ replicas).
    let n: usize = std::env::var("SFLOW_BENCH_SWEEP_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let label = format!("sweep: {} replicas ({n}x{n}x{n})", n * n * n);
    if wanted(&label) {
        bench(
            &label,
            &request(format!("sweep_{}.yaml", n * n * n), sweep(n)),
        );
    }
}
