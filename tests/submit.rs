//! `sflow submit` against the stand-in `sbatch` of `tests/shims`: the script written
//! next to the input (or at -o), `sbatch --parsable` run on it, the job id and log
//! places printed; with `--bulk-input` every row submitted and the ids recorded in the
//! index, also when Slurm refuses a job part way.

use crate::common::{self, sflow, text, workspace};

const WF: &str = r#"version: "0.1"
variables:
  MODE: {value: a}
backends:
  - {name: cl, type: slurm, nodes: 1, gpus_per_node: 4, partition: batch}
workflow:
  name: wf
  tasks:
    - name: work
      script: ["run ${{ MODE }}"]
"#;

const CSV: &str = "sflow_config_file,MODE,job_name\nwf.yaml,a,one\nwf.yaml,b,\nwf.yaml,c,three\n";

#[test]
fn submit_writes_the_script_next_to_the_input_and_prints_the_job() {
    let dir = workspace(&[("sub/wf.yaml", WF)]);
    let log = dir.path().join("sbatch.log");
    let path = common::shim_path();
    let env = [
        ("PATH", path.as_str()),
        ("FAKE_SBATCH_LOG", log.to_str().unwrap()),
    ];
    let out = sflow(dir.path(), &["submit", "sub/wf.yaml", "-t", "1h"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "submitted job 4201: sub/wf.sh\n  Slurm output: wf-4201.out\n  task logs:    sflow_output/4201-wf-<time>-<id>/<task>/<task>.log\n"
    );
    let script = std::fs::read_to_string(dir.path().join("sub/wf.sh")).unwrap();
    let compiled = sflow(dir.path(), &["compile", "sub/wf.yaml", "-t", "1h"], &[]);
    assert_eq!(script, text(&compiled.stdout));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("sub/wf.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111);
    }
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls,
        format!("--parsable sub/wf.sh | {}\n", dir.path().display())
    );

    // -o names the script; the output dir shows in the log places.
    let out = sflow(
        dir.path(),
        &[
            "submit",
            "-f",
            "sub/wf.yaml",
            "-o",
            "job.sh",
            "--output-dir",
            "/scratch/runs",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("submitted job 4202: job.sh\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("/scratch/runs/4202-wf-<time>-<id>/"),
        "{stdout}"
    );
    assert!(dir.path().join("job.sh").is_file());

    // Never over a workflow file.
    let out = sflow(dir.path(), &["submit", "sub/wf.yaml", "-o", "x.yaml"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("x.yaml").exists());
}

#[test]
fn submit_without_sbatch_or_with_a_refusal_exits_2() {
    let dir = workspace(&[("wf.yaml", WF)]);
    let out = sflow(
        dir.path(),
        &["submit", "wf.yaml"],
        &[("PATH", "/nonexistent")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("sbatch is not on PATH"));
    assert!(out.stdout.is_empty());
    let path = common::shim_path();
    let out = sflow(
        dir.path(),
        &["submit", "wf.yaml"],
        &[("PATH", path.as_str()), ("FAKE_SBATCH_FAIL_AT", "1")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("Invalid account"),
        "{}",
        text(&out.stderr)
    );
    // A workflow error stops before sbatch.
    let dir = workspace(&[(
        "wf.yaml",
        "version: \"0.1\"\nworkflow: {name: w, tasks: []}\n",
    )]);
    let log = dir.path().join("sbatch.log");
    let out = sflow(
        dir.path(),
        &["submit", "wf.yaml"],
        &[
            ("PATH", path.as_str()),
            ("FAKE_SBATCH_LOG", log.to_str().unwrap()),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!log.exists());
}

#[test]
fn bulk_submit_records_every_job_id_in_the_index() {
    let dir = workspace(&[("wf.yaml", WF), ("jobs.csv", CSV)]);
    let log = dir.path().join("sbatch.log");
    let path = common::shim_path();
    let env = [
        ("PATH", path.as_str()),
        ("FAKE_SBATCH_LOG", log.to_str().unwrap()),
    ];
    let out = sflow(dir.path(), &["submit", "--bulk-input", "jobs.csv"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("submitted job 4201: jobs-jobs/01-one.sh\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("job ids recorded in jobs-jobs/index.csv\n"),
        "{stdout}"
    );
    let index = std::fs::read_to_string(dir.path().join("jobs-jobs/index.csv")).unwrap();
    assert_eq!(
        index,
        "row,job_name,script,input_files,overrides,job_id\n\
         1,one,01-one.sh,wf.yaml,--set MODE=a -J one,4201\n\
         2,wf,02-wf.sh,wf.yaml,--set MODE=b,4202\n\
         3,three,03-three.sh,wf.yaml,--set MODE=c -J three,4203\n"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 3);

    // Slurm refuses the second job: the first id is kept, the rest are not submitted.
    std::fs::remove_file(&log).unwrap();
    let out = sflow(
        dir.path(),
        &["submit", "--bulk-input", "jobs.csv", "-o", "again"],
        &[
            ("PATH", path.as_str()),
            ("FAKE_SBATCH_LOG", log.to_str().unwrap()),
            ("FAKE_SBATCH_FAIL_AT", "2"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("row 2: sbatch again/02-wf.sh failed"), "{err}");
    assert!(err.contains("1 of 3 jobs were submitted"), "{err}");
    let index = std::fs::read_to_string(dir.path().join("again/index.csv")).unwrap();
    let ids: Vec<&str> = index
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(ids, ["4201", "", ""]);
}
