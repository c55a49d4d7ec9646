//! Bulk sweeps (`--bulk-input CSV`): the corpus CSV gives the reference's plan for every
//! row; `--row` selectors; columns checked against the workflows; a bad row stops
//! everything before anything is written; command-line overrides win over the CSV.

use crate::common::{self, sflow, text, workspace};
use crate::conformance;
use serde_json::Value;
use std::path::Path;

const WF: &str = r#"version: "0.1"
variables:
  N: {value: 1, type: integer}
  MODE: {value: a, domain: [a, b]}
  C: {value: 8}
artifacts:
  - {name: MODEL, uri: "fs:///models/x"}
backends:
  - {name: cl, type: slurm, nodes: 1, gpus_per_node: 4}
workflow:
  name: wf
  tasks:
    - name: work
      replicas: {count: "${{ N }}"}
      resources: {gpus: {count: 1}}
      script: ["run ${{ MODE }} ${{ C }} ${{ artifacts.MODEL.path }}"]
"#;

const EXTRA: &str = r#"version: "0.1"
workflow:
  name: wf
  tasks:
    - name: post
      depends_on: [work]
      script: ["echo done"]
"#;

const CSV: &str = "sflow_config_file,job_name,N,MODE,MODEL,C\n\
wf.yaml,first,2,b,fs:///m/one,\n\
wf.yaml,,3,,,16\n\
wf.yaml extra.yaml,third,,,,\n";

fn plans(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["plan", "--json", "--bulk-input", "jobs.csv"];
    all.extend(args);
    let out = sflow(dir, &all, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc.as_array().unwrap().clone()
}

fn names(plan: &Value) -> Vec<String> {
    plan["plan"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn env<'a>(plan: &'a Value, task: usize, var: &str) -> &'a str {
    plan["plan"]["tasks"][task]["env"][var]
        .as_str()
        .unwrap_or("")
}

#[test]
fn one_script_per_row_and_an_index() {
    let dir = workspace(&[("wf.yaml", WF), ("extra.yaml", EXTRA), ("jobs.csv", CSV)]);
    let out = sflow(
        dir.path(),
        &["compile", "--bulk-input", "jobs.csv", "-o", "out"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let mut written: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        ["01-first.sh", "02-wf.sh", "03-third.sh", "index.csv"]
    );
    let first = std::fs::read_to_string(dir.path().join("out/01-first.sh")).unwrap();
    assert!(first.contains("#SBATCH --job-name=first\n"), "{first}");
    assert!(first.contains("--set N=2 --set MODE=b --artifact MODEL=fs:///m/one"));
    let index = std::fs::read_to_string(dir.path().join("out/index.csv")).unwrap();
    assert_eq!(
        index,
        "row,job_name,script,input_files,overrides\n\
         1,first,01-first.sh,wf.yaml,--set N=2 --set MODE=b --artifact MODEL=fs:///m/one -J first\n\
         2,wf,02-wf.sh,wf.yaml,--set N=3 --set C=16\n\
         3,third,03-third.sh,wf.yaml extra.yaml,-J third\n"
    );
    // Each script is the one `compile` writes for the same inputs.
    let single = sflow(
        dir.path(),
        &["compile", "wf.yaml", "--set", "N=3", "--set", "C=16"],
        &[],
    );
    let second = std::fs::read_to_string(dir.path().join("out/02-wf.sh")).unwrap();
    assert_eq!(text(&single.stdout), second);
}

#[test]
fn rows_set_variables_and_artifacts_and_the_command_line_wins() {
    let dir = workspace(&[("wf.yaml", WF), ("extra.yaml", EXTRA), ("jobs.csv", CSV)]);
    let all = plans(dir.path(), &[]);
    assert_eq!(all.len(), 3);
    assert_eq!(names(&all[0]), ["work_0", "work_1"]);
    assert_eq!(env(&all[0], 0, "MODE"), "b");
    assert_eq!(env(&all[0], 0, "MODEL"), "/m/one");
    assert_eq!(env(&all[0], 0, "C"), "8", "an empty cell changes nothing");
    assert_eq!(names(&all[1]), ["work_0", "work_1", "work_2"]);
    assert_eq!(env(&all[1], 0, "C"), "16");
    assert_eq!(names(&all[2]), ["work_0", "post"]);
    assert_eq!(all[2]["job_name"], "third");
    let overridden = plans(
        dir.path(),
        &[
            "--set",
            "C=99",
            "--artifact",
            "MODEL=fs:///cli",
            "-J",
            "cli",
        ],
    );
    for plan in &overridden {
        assert_eq!(env(plan, 0, "C"), "99");
        assert_eq!(env(plan, 0, "MODEL"), "/cli");
        assert_eq!(plan["job_name"], "cli");
    }
}

#[test]
fn row_selectors_pick_rows_in_the_order_given() {
    let dir = workspace(&[("wf.yaml", WF), ("extra.yaml", EXTRA), ("jobs.csv", CSV)]);
    let rows = |args: &[&str]| -> Vec<u64> {
        plans(dir.path(), args)
            .iter()
            .map(|p| p["row"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(rows(&["--row", "2"]), [2]);
    assert_eq!(rows(&["--row", "-1", "--row", "1"]), [3, 1]);
    assert_eq!(rows(&["--row", "1,3"]), [1, 3]);
    assert_eq!(rows(&["--row", "2:"]), [2, 3]);
    assert_eq!(rows(&["--row", ":3"]), [1, 2]);
    assert_eq!(rows(&["--row", "::-2"]), [3, 1]);
    for bad in ["0", "4", "x", "3:1"] {
        let out = sflow(
            dir.path(),
            &["plan", "--bulk-input", "jobs.csv", "--row", bad],
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "--row {bad}");
        assert!(text(&out.stderr).contains("--row"), "{}", text(&out.stderr));
    }
    let out = sflow(dir.path(), &["plan", "wf.yaml", "--row", "1"], &[]);
    assert_eq!(out.status.code(), Some(2), "--row needs --bulk-input");
}

#[test]
fn an_unknown_column_is_named_with_the_nearest_name_and_nothing_is_written() {
    for (column, hint) in [
        ("LMODEL", "did you mean `MODEL`?"),
        ("QQQQQQQQ", "the nearest name is"),
    ] {
        let csv = format!("sflow_config_file,{column}\nwf.yaml,1\n");
        let dir = workspace(&[("wf.yaml", WF), ("jobs.csv", &csv)]);
        let out = sflow(
            dir.path(),
            &["compile", "--bulk-input", "jobs.csv", "-o", "out"],
            &[],
        );
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!(
                "CSV column `{column}` is not a variable or artifact"
            )),
            "{err}"
        );
        assert!(err.contains(hint), "{err}");
        assert!(!dir.path().join("out").exists());
    }
    let dir = workspace(&[("wf.yaml", WF), ("jobs.csv", "config,N\nwf.yaml,1\n")]);
    let out = sflow(dir.path(), &["check", "--bulk-input", "jobs.csv"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no `sflow_config_file` column"));
}

#[test]
fn a_bad_row_is_reported_by_number_and_nothing_is_written() {
    let csv = "sflow_config_file,MODE\nwf.yaml,a\nwf.yaml,c\nwf.yaml,b\nmissing.yaml,a\n";
    let dir = workspace(&[("wf.yaml", WF), ("jobs.csv", csv)]);
    let out = sflow(
        dir.path(),
        &["compile", "--bulk-input", "jobs.csv", "-o", "out"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("row 4: cannot read missing.yaml"), "{err}");
    assert!(!dir.path().join("out").exists(), "{err}");
    // Rows 1-3 read; row 2 does not compile.
    let out = sflow(
        dir.path(),
        &[
            "compile",
            "--bulk-input",
            "jobs.csv",
            "--row",
            ":4",
            "-o",
            "out",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("── row 2"), "{err}");
    assert!(err.contains("not in its domain"), "{err}");
    assert!(err.contains("row 2 of jobs.csv did not compile; nothing was written"));
    assert!(!dir.path().join("out").exists());
    // An existing directory is left as it was.
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/01-wf.sh"), "old").unwrap();
    let out = sflow(
        dir.path(),
        &[
            "compile",
            "--bulk-input",
            "jobs.csv",
            "--row",
            ":4",
            "-o",
            "out",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/01-wf.sh")).unwrap(),
        "old"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        1
    );
    // Without -o there is nowhere to write.
    let out = sflow(dir.path(), &["compile", "--bulk-input", "jobs.csv"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

/// The corpus CSV: nine scripts, and each row's plan is the reference's.
#[test]
fn the_corpus_csv_gives_the_reference_plan_for_every_row() {
    let Some(shared) = common::shared() else {
        return;
    };
    let csv = shared.join("corpus/modular/inference_x_v2/bulk_input.csv");
    let csv = csv.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = sflow(
        dir.path(),
        &["compile", "--bulk-input", csv, "-o", "out"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let scripts: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sh"))
        .collect();
    assert_eq!(scripts.len(), 9, "{scripts:?}");
    let index = std::fs::read_to_string(dir.path().join("out/index.csv")).unwrap();
    assert_eq!(index.lines().count(), 10);

    let out = sflow(dir.path(), &["plan", "--json", "--bulk-input", csv], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 9);
    let mut problems = Vec::new();
    for row in rows {
        let n = row["row"].as_u64().unwrap();
        let case = format!("ixv2_csvrow{n:02}");
        let path = shared.join(format!("reference/plans/{case}.json"));
        let reference: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        problems.extend(conformance::compare(&case, &row["plan"], &reference));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
