//! No input makes the compiler panic: 10,000+ random and mutated workflows go through
//! the whole pipeline (plan, then script), and each must give a plan or an error
//! diagnostic. Seeds are the fixtures and, when present, the corpus; mutations delete,
//! duplicate, swap and truncate lines, flip characters to YAML and expression syntax,
//! and splice in expressions; a structured generator adds random valid-looking DAGs.
//! Deterministic (a fixed-seed xorshift), so a failure reproduces.

use crate::common;
use std::panic::{AssertUnwindSafe, catch_unwind};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SNIPPETS: &[&str] = &[
    "${{ variables.A }}",
    "${{ A * 2 }}",
    "${{ 1/0 }}",
    "${{ [1,2] | max }}",
    "${{ task.x.nodes[0].ip_address }}",
    "${{ backends.b.nodes[9].name }}",
    "${{ variables.A.domain | length }}",
    "${{",
    "}}",
    "${{ 'a' * 99999999 }}",
    "${{ 2 ** 999 }}",
    "${{ ((((((((((((1)))))))))))) }}",
    "&a",
    "*a",
    "!!str",
    "{",
    "[",
    "- ",
    ": ",
    "\t",
    "'",
    "\"",
    "#",
    "|",
    "replicas: {count: 3}",
    "replicas: {variables: [A]}",
    "resources: {gpus: {count: 99}}",
    "depends_on: [a, b, c]",
    "probes: {readiness: {tcp_port: {port: 1}}}",
    "retries: {count: 2, interval: 0}",
    "timeout: 1h",
    "-1",
    "99999999999999999999",
    "\u{0}",
    "é",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for _ in 0..1 + rng.below(2) {
        if lines.is_empty() {
            break;
        }
        let i = rng.below(lines.len());
        match rng.below(8) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
            3 => lines.truncate(i),
            4 => {
                let line = &mut lines[i];
                if !line.is_empty() {
                    let mut chars: Vec<char> = line.chars().collect();
                    let k = rng.below(chars.len());
                    chars[k] = *rng.pick(&[
                        '{', '}', '[', ']', ':', '$', '-', '"', '\'', ' ', '\n', '#', '&', '*',
                        '!', '|', '>', '0', 'x',
                    ]);
                    *line = chars.into_iter().collect();
                }
            }
            5 => {
                let at = rng.below(lines[i].len() + 1);
                let at = (0..=at)
                    .rev()
                    .find(|&p| lines[i].is_char_boundary(p))
                    .unwrap_or(0);
                let snippet = rng.pick(SNIPPETS).to_string();
                lines[i].insert_str(at, &snippet);
            }
            6 => {
                let indent: String = lines[i].chars().take_while(|c| *c == ' ').collect();
                let snippet = rng.pick(SNIPPETS).to_string();
                lines.insert(i, format!("{indent}{snippet}"));
            }
            _ => {
                let l = &mut lines[i];
                *l = l.replacen(|c: char| c.is_ascii_digit(), &rng.below(20).to_string(), 1);
            }
        }
    }
    lines.join("\n")
}

/// A random workflow: tasks with random dependencies, replicas, sweeps and resources.
fn generate(rng: &mut Rng) -> String {
    let mut y = String::from("version: \"0.1\"\nvariables:\n");
    y.push_str(&format!(
        "  A: {{value: {}, domain: [1, 2, 3]}}\n",
        1 + rng.below(3)
    ));
    y.push_str(&format!(
        "  B: {{value: \"x\", domain: [x, y.z, w-1]}}\n  N: {{value: {}}}\n",
        rng.below(4)
    ));
    if rng.below(2) == 0 {
        y.push_str(&format!(
            "backends:\n  - {{name: b, type: slurm, nodes: {}, gpus_per_node: {}}}\n",
            1 + rng.below(4),
            4 + rng.below(5)
        ));
    }
    y.push_str("workflow:\n  name: fuzz\n  tasks:\n");
    let n = 1 + rng.below(6);
    for t in 0..n {
        y.push_str(&format!(
            "    - name: t{t}\n      script: [\"echo ${{{{ variables.A }}}} $B\"]\n"
        ));
        if t > 0 && rng.below(2) == 0 {
            y.push_str(&format!("      depends_on: [t{}]\n", rng.below(n)));
        }
        match rng.below(4) {
            0 => y.push_str(&format!(
                "      replicas: {{count: {}, policy: {}}}\n",
                1 + rng.below(3),
                rng.pick(&["parallel", "sequential"])
            )),
            1 => y.push_str(&format!(
                "      replicas: {{variables: [{}], policy: {}}}\n",
                rng.pick(&["A", "B", "A, B", "N"]),
                rng.pick(&["parallel", "sequential"])
            )),
            _ => {}
        }
        match rng.below(5) {
            0 => y.push_str(&format!("      resources: {{gpus: {{count: {}}}}}\n", 1 + rng.below(4))),
            1 => y.push_str(&format!(
                "      resources: {{nodes: {{indices: [{}]}}, gpus: {{indices: [{}]}}}}\n",
                rng.below(4),
                rng.below(8)
            )),
            2 => y.push_str(&format!(
                "      resources: {{nodes: {{count: {}}}, gpus: {{count: ${{{{ variables.A }}}}}}}}\n",
                rng.below(3)
            )),
            _ => {}
        }
        if rng.below(4) == 0 {
            y.push_str("      probes: {readiness: {tcp_port: {port: 8000}}}\n");
        }
    }
    y
}

/// `Ok(true)` for a script, `Ok(false)` for an error diagnostic.
fn compile_once(text: &str) -> Result<bool, String> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let request = common::request(vec![("fuzz.yaml".into(), text.to_string())], &[]);
        let output = sflow::plan(&request);
        match &output.plan {
            Some(plan) => {
                let script = sflow::script(&request, plan);
                assert!(script.starts_with("#!/bin/bash"));
                let _ = sflow::report::json(plan);
                Some(true)
            }
            None => output
                .render_diagnostics()
                .contains("error[")
                .then_some(false),
        }
    }));
    match result {
        Ok(Some(compiled)) => Ok(compiled),
        Ok(None) => Err("neither a plan nor an error diagnostic".into()),
        Err(_) => Err("panicked".into()),
    }
}

#[test]
fn no_input_panics_the_compiler() {
    let mut seeds: Vec<String> = Vec::new();
    for kind in ["ok", "err"] {
        for entry in std::fs::read_dir(common::root().join("tests/fixtures").join(kind)).unwrap() {
            seeds.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
    }
    if let Some(shared) = common::shared() {
        for dir in ["corpus/self_contained/slurm", "corpus/self_contained/local"] {
            for entry in std::fs::read_dir(shared.join(dir)).unwrap() {
                seeds.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
            }
        }
    }
    let mut rng = Rng(0x5f10_u64 << 20 | 0x2b);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    let mut compiled = 0;
    let cases = 10_000;
    for case in 0..cases {
        let text = if case % 5 == 0 {
            generate(&mut rng)
        } else {
            let seed = rng.pick(&seeds).clone();
            mutate(&mut rng, &seed)
        };
        match compile_once(&text) {
            Ok(true) => compiled += 1,
            Ok(false) => {}
            Err(why) => {
                failures.push(format!("case {case}: {why}\n{text}"));
                if failures.len() > 3 {
                    break;
                }
            }
        }
    }
    std::panic::set_hook(hook);
    assert!(failures.is_empty(), "{}", failures.join("\n-----\n"));
    // Both outcomes are exercised, not only the error path.
    assert!(
        compiled > cases / 10,
        "only {compiled} of {cases} cases compiled"
    );
    eprintln!("fuzz: {cases} cases, {compiled} compiled, the rest reported errors");
}
