//! The `sflow` binary: exit codes (0 ok, 1 user error, 2 usage/IO), stdout only for
//! results, diagnostics on stderr, atomic `-o`, header options, and file merge order.

use std::path::Path;
use std::process::{Command, Output};

fn sflow(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sflow"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const SLURM_WF: &str = r#"version: "0.1"
variables:
  NODES: {value: 2}
backends:
  - {name: cluster, type: slurm, nodes: "${{ variables.NODES }}", gpus_per_node: 8, partition: batch, time: 90m}
workflow:
  name: wf
  tasks:
    - name: a
      resources: {gpus: {count: 8}}
      script: [echo a]
"#;

fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    dir
}

#[test]
fn compile_prints_the_script_and_nothing_else() {
    let dir = workspace(&[("wf.yaml", SLURM_WF)]);
    let out = sflow(dir.path(), &["compile", "wf.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    assert!(script.starts_with("#!/bin/bash\n#SBATCH --job-name=wf\n#SBATCH --nodes=2\n#SBATCH --time=01:30:00\n#SBATCH --partition=batch\n"), "{script}");
    assert!(out.stderr.is_empty());
}

#[test]
fn header_options_override_the_backend() {
    let dir = workspace(&[("wf.yaml", SLURM_WF)]);
    let out = sflow(
        dir.path(),
        &[
            "compile",
            "wf.yaml",
            "-p",
            "gpu",
            "-A",
            "proj",
            "-t",
            "2h",
            "-N",
            "3",
            "-J",
            "run1",
            "-e",
            "--gres=gpu:8",
            "-e",
            "--exclusive",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    let header: Vec<&str> = script
        .lines()
        .take_while(|l| l.starts_with("#SBATCH") || l.starts_with("#!"))
        .collect();
    assert_eq!(
        header,
        [
            "#!/bin/bash",
            "#SBATCH --job-name=run1",
            "#SBATCH --nodes=3",
            "#SBATCH --time=02:00:00",
            "#SBATCH --partition=gpu",
            "#SBATCH --account=proj",
            "#SBATCH --output=%x-%j.out",
            "#SBATCH --gres=gpu:8",
            "#SBATCH --exclusive",
            "#SBATCH --signal=B:TERM@60",
        ]
    );
    assert!(script.contains("SFLOW_NODE_COUNT=3"));
}

#[test]
fn errors_exit_1_with_nothing_on_stdout() {
    let dir = workspace(&[(
        "wf.yaml",
        "version: \"0.1\"\nworkflow:\n  name: wf\n  tasks:\n    - name: a\n      scirpt: [echo]\n",
    )]);
    for command in ["compile", "check", "plan"] {
        let out = sflow(dir.path(), &[command, "wf.yaml"]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(out.stdout.is_empty(), "{command} printed on stdout");
        let err = text(&out.stderr);
        assert!(err.contains("--> wf.yaml:6:7"), "{err}");
        assert!(err.contains("did you mean `script`?"), "{err}");
    }
}

#[test]
fn usage_and_io_errors_exit_2() {
    let dir = workspace(&[]);
    assert_eq!(
        sflow(dir.path(), &["compile", "missing.yaml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        sflow(dir.path(), &["compile", "--no-such-flag"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(sflow(dir.path(), &["compile"]).status.code(), Some(2));
}

#[test]
fn output_files_are_written_atomically_and_kept_on_error() {
    let dir = workspace(&[("wf.yaml", SLURM_WF), ("bad.yaml", "version: 1\n")]);
    let out = sflow(dir.path(), &["compile", "wf.yaml", "-o", "job.sh"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let first = std::fs::read_to_string(dir.path().join("job.sh")).unwrap();
    assert!(first.starts_with("#!/bin/bash"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("job.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "the script is executable");
    let out = sflow(dir.path(), &["compile", "bad.yaml", "-o", "job.sh"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("job.sh")).unwrap(),
        first
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("sflow-tmp")), "{names:?}");
}

#[test]
fn files_merge_in_command_line_order() {
    let base = "version: \"0.1\"\nvariables:\n  WHO: {value: base}\nworkflow:\n  name: wf\n  tasks:\n    - name: a\n      script: [echo $WHO]\n";
    let first = "variables:\n  WHO: {value: first}\n";
    let second = "variables:\n  WHO: {value: second}\n";
    let dir = workspace(&[
        ("base.yaml", base),
        ("first.yaml", first),
        ("second.yaml", second),
    ]);
    let out = sflow(
        dir.path(),
        &[
            "plan",
            "--json",
            "base.yaml",
            "-f",
            "first.yaml",
            "second.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"WHO\": \"second\""));
    let out = sflow(
        dir.path(),
        &[
            "plan",
            "--json",
            "-f",
            "base.yaml",
            "second.yaml",
            "-f",
            "first.yaml",
        ],
    );
    assert!(text(&out.stdout).contains("\"WHO\": \"first\""));
}

#[test]
fn plan_prints_a_table_or_json() {
    let dir = workspace(&[("wf.yaml", SLURM_WF)]);
    let out = sflow(dir.path(), &["plan", "wf.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let table = text(&out.stdout);
    assert!(
        table.contains("workflow wf: 1 task on cluster (slurm, 2 nodes × 8 GPUs)"),
        "{table}"
    );
    let out = sflow(
        dir.path(),
        &["plan", "--json", "wf.yaml", "--set", "NODES=1"],
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["workflow"], "wf");
    assert_eq!(plan["tasks"][0]["cuda_visible_devices"], "0,1,2,3,4,5,6,7");
    assert_eq!(
        plan["tasks"][0]["env"]["SFLOW_TASK_ASSIGNED_NODE_IPS"],
        "<runtime:backend.node[0].ip_address>"
    );
}

#[test]
fn check_reports_warnings_but_succeeds() {
    let wf = "version: \"0.1\"\nworkflow:\n  name: wf\n  tasks:\n    - name: a\n      monitor: {enabled: true}\n      script: [echo a]\n";
    let dir = workspace(&[("wf.yaml", wf)]);
    let out = sflow(dir.path(), &["check", "wf.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(
        err.contains("warning[not-supported-yet]: `monitor` is not supported yet and is ignored"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn compose_writes_yaml_that_compiles_to_the_same_script() {
    let site = "backends:\n  - {name: cluster, type: slurm, partition: site}\n";
    let dir = workspace(&[("wf.yaml", SLURM_WF), ("site.yaml", site)]);
    let out = sflow(
        dir.path(),
        &[
            "compose",
            "wf.yaml",
            "site.yaml",
            "--set",
            "NODES=3",
            "-o",
            "merged.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let merged = std::fs::read_to_string(dir.path().join("merged.yaml")).unwrap();
    assert!(merged.starts_with("# Merged by `sflow compose` from: wf.yaml site.yaml\n"));
    assert!(merged.contains("partition: site\n"), "{merged}");
    let header = |args: &[&str]| -> Vec<String> {
        let out = sflow(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with("# Workflow `") && !l.starts_with("# Recompile:"))
            .map(String::from)
            .collect()
    };
    assert_eq!(
        header(&["compile", "merged.yaml"]),
        header(&["compile", "wf.yaml", "site.yaml", "--set", "NODES=3"])
    );

    // --resolve says what it inlined; -N is written into the Slurm backend.
    let out = sflow(dir.path(), &["compose", "wf.yaml", "--resolve", "-N", "4"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert!(
        yaml.contains("nodes: 4\n") && !yaml.contains("${{"),
        "{yaml}"
    );
    assert_eq!(text(&out.stderr), "inlined: NODES\n");

    // A workflow that does not compile is not composed.
    let out = sflow(dir.path(), &["compose", "wf.yaml", "--set", "NOPE=1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("NOPE"));
}
