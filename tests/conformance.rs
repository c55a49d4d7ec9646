//! Conformance with the reference planner: every case in `../shared/reference/plans`
//! compiled with its inputs, and `sflow plan --json` compared with the reference's plan
//! (concrete names and order, dependencies, node indices, CUDA_VISIBLE_DEVICES, swept
//! values). A difference passes only when it is listed below with the SPEC rule behind it.

use crate::common;
use serde_json::Value;
use std::path::Path;

/// Differences SPEC makes on purpose: (case, task, field, SPEC section and reason).
const ALLOWED: &[(&str, &str, &str, &str)] = &[];

/// Cases SPEC refuses, with the error code they get.
pub const REFUSED: &[(&str, &str)] = &[
    (
        "slurm__monitor_mixed",
        "multiple-slurm-backends", // SPEC §1: one Slurm backend per script
    ),
    (
        "slurm__multi_backend",
        "multiple-slurm-backends", // SPEC §1: one Slurm backend per script
    ),
];

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The inputs of a reference case: its files (name as listed, text) and its
/// `--set`/`--artifact`/`-M` options.
pub fn case_inputs(shared: &Path, reference: &Value) -> (Vec<(String, String)>, Vec<String>) {
    let files = strings(&reference["files"])
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(shared.join(&f)).unwrap();
            (f, text)
        })
        .collect();
    let mut args = Vec::new();
    for (key, flag) in [
        ("set", "--set"),
        ("artifact", "--artifact"),
        ("missable", "-M"),
    ] {
        for v in strings(&reference[key]) {
            args.push(flag.to_string());
            args.push(v);
        }
    }
    (files, args)
}

/// Every difference between our `plan --json` and a reference plan: concrete names and
/// order, dependencies, node indices, CUDA_VISIBLE_DEVICES and swept values (those
/// listed in `ALLOWED` excepted).
pub fn compare(case: &str, ours: &Value, reference: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let ours = ours["tasks"].as_array().unwrap();
    let theirs = reference["tasks"].as_array().unwrap();
    let names = |tasks: &[Value]| -> Vec<String> {
        tasks
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    if names(ours) != names(theirs) {
        problems.push(format!(
            "{case}: tasks or order differ:\n  ours:      {:?}\n  reference: {:?}",
            names(ours),
            names(theirs)
        ));
        return problems;
    }
    for (o, r) in ours.iter().zip(theirs) {
        let task = o["name"].as_str().unwrap();
        let mut differ = |field: &str, a: String, b: String| {
            if a != b
                && !ALLOWED
                    .iter()
                    .any(|(c, t, f, _)| *c == case && *t == task && *f == field)
            {
                problems.push(format!("{case}: {task}.{field}: ours {a}, reference {b}"));
            }
        };
        let mut deps_o = strings(&o["depends_on"]);
        let mut deps_r = strings(&r["depends_on"]);
        deps_o.sort();
        deps_r.sort();
        differ("depends_on", format!("{deps_o:?}"), format!("{deps_r:?}"));
        differ(
            "node_indices",
            o["node_indices"].to_string(),
            r["assigned_node_indices"].to_string(),
        );
        differ(
            "cuda_visible_devices",
            o["cuda_visible_devices"].to_string(),
            r["cuda_visible_devices"].to_string(),
        );
        differ(
            "sweep",
            o["sweep"].to_string(),
            r["sweep_variables"].to_string(),
        );
    }
    problems
}

/// Every reference case: (case name, its JSON).
pub fn cases(shared: &Path) -> Vec<(String, Value)> {
    let mut paths: Vec<_> = std::fs::read_dir(shared.join("reference/plans"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let case = p.file_stem().unwrap().to_string_lossy().into_owned();
            let json = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (case, json)
        })
        .collect()
}

#[test]
fn plans_match_the_reference() {
    let Some(shared) = common::shared() else {
        return;
    };
    let cases = cases(&shared);
    assert!(
        cases.len() >= 40,
        "expected the reference plans, found {}",
        cases.len()
    );
    let mut problems = Vec::new();
    let mut compared = 0;
    for (case, reference) in &cases {
        let case = case.as_str();
        let (files, args) = case_inputs(&shared, reference);
        let request = common::request(files, &args);
        let output = sflow::plan(&request);
        let refused = REFUSED.iter().find(|(c, _)| *c == case);
        let Some(plan) = &output.plan else {
            let rendered = output.render_diagnostics();
            match refused {
                Some((_, code)) if rendered.contains(&format!("error[{code}]")) => continue,
                _ => {
                    problems.push(format!("{case}: did not compile:\n{rendered}"));
                    continue;
                }
            }
        };
        if refused.is_some() {
            problems.push(format!("{case}: listed as refused but compiled"));
            continue;
        }
        compared += 1;
        let ours: Value = serde_json::from_str(&sflow::report::json(plan)).unwrap();
        problems.extend(compare(case, &ours, reference));
    }
    assert!(
        problems.is_empty(),
        "{} difference(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!(
        "conformance: {compared} plans identical, {} refused as SPEC says",
        REFUSED.len()
    );
}
