//! End-to-end tests on a real Slurm (issue 5). Each test compiles a workflow from `tests/e2e/`
//! with the `sflow` binary, submits the script with `sbatch --parsable`, waits for the job by
//! polling `scontrol show job` every half second, and checks the job's state, its exit code and
//! the files of its run directory.
//!
//! They need a running Slurm, so they are ignored by default:
//!
//! ```text
//! scripts/slurm-test-cluster up          # or scripts/e2e-slurm, which also runs this
//! cargo test --test e2e_slurm -- --ignored --test-threads=16
//! ```
//!
//! Clients find the cluster through `SLURM_CONF`; when it is unset, the test cluster's config
//! (`${SFLOW_SLURM_DIR:-/tmp/sflow-slurm}/etc/slurm.conf`) is used if it exists, else Slurm's
//! default. Every test submits its own job, so they can all run at once. Each job's submit
//! directory (script, Slurm output, `sflow_output/`) is kept in
//! `target/tmp/e2e-slurm/<test>/` for inspection.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(500);
/// Generous: a job here takes seconds, but the machine is small and shared.
const JOB_TIMEOUT: Duration = Duration::from_secs(240);

// ── the cluster ──────────────────────────────────────────────────────────────

/// The `SLURM_CONF` the clients use, checked once with `scontrol ping`.
fn slurm_conf() -> Option<&'static Path> {
    static CONF: OnceLock<Option<PathBuf>> = OnceLock::new();
    let conf = CONF.get_or_init(|| {
        let conf = std::env::var_os("SLURM_CONF").map(PathBuf::from).or_else(|| {
            let dir = std::env::var_os("SFLOW_SLURM_DIR").unwrap_or("/tmp/sflow-slurm".into());
            let conf = Path::new(&dir).join("etc/slurm.conf");
            conf.is_file().then_some(conf)
        });
        let mut ping = Command::new("scontrol");
        ping.arg("ping");
        if let Some(conf) = &conf {
            ping.env("SLURM_CONF", conf);
        }
        let out = ping.output();
        let up = matches!(&out, Ok(o) if o.status.success() && String::from_utf8_lossy(&o.stdout).contains("UP"));
        assert!(
            up,
            "no Slurm controller answers (SLURM_CONF={conf:?}): {out:?}\n\
             start the test cluster first: scripts/slurm-test-cluster up"
        );
        conf
    });
    conf.as_deref()
}

/// Runs a Slurm client command; panics when it cannot be started.
fn slurm<I, S>(program: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(conf) = slurm_conf() {
        cmd.env("SLURM_CONF", conf);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Expands a Slurm host list (`node[1-2]`) with `scontrol show hostnames`.
fn hostnames(list: &str) -> Vec<String> {
    let out = slurm("scontrol", ["show", "hostnames", list]);
    assert!(
        out.status.success(),
        "scontrol show hostnames {list}: {out:?}"
    );
    stdout(&out).lines().map(str::to_owned).collect()
}

// ── a job ────────────────────────────────────────────────────────────────────

/// Job states after which nothing of the job runs any more.
const FINAL_STATES: &[&str] = &[
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "OUT_OF_MEMORY",
];

struct Job {
    id: String,
    /// The submit directory: the workspace, holding the script and `sflow_output/`.
    dir: PathBuf,
}

/// The job as `scontrol show job` saw it when it ended.
struct Ended {
    state: String,
    exit_code: String,
    info: HashMap<String, String>,
}

impl Job {
    /// Compiles `tests/e2e/<fixture>` (more fixtures merge in order, then `args`) into
    /// `target/tmp/e2e-slurm/<name>/job.sh` and submits it from there.
    fn submit(name: &str, fixtures: &[&str], args: &[&str]) -> Job {
        slurm_conf();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("e2e-slurm")
            .join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("job.sh");
        let mut compile = Command::new(env!("CARGO_BIN_EXE_sflow"));
        compile.arg("compile");
        for f in fixtures {
            compile.arg(root.join("tests/e2e").join(f));
        }
        compile.args(args).arg("-o").arg(&script);
        let out = compile.output().unwrap();
        assert!(
            out.status.success(),
            "sflow compile failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut sbatch = Command::new("sbatch");
        sbatch.arg("--parsable").arg(&script).current_dir(&dir);
        if let Some(conf) = slurm_conf() {
            sbatch.env("SLURM_CONF", conf);
        }
        let out = sbatch.output().unwrap();
        assert!(
            out.status.success(),
            "sbatch failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // --parsable prints "id" or "id;cluster".
        let id = stdout(&out).trim().split(';').next().unwrap().to_owned();
        assert!(
            id.chars().all(|c| c.is_ascii_digit()) && !id.is_empty(),
            "job id {id:?}"
        );
        eprintln!("{name}: job {id} in {}", dir.display());
        Job { id, dir }
    }

    /// `scontrol show job -o` as key=value pairs (empty once Slurm has forgotten the job).
    fn info(&self) -> HashMap<String, String> {
        let out = slurm("scontrol", ["show", "job", "-o", &self.id]);
        stdout(&out)
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn state(&self) -> String {
        self.info().remove("JobState").unwrap_or_default()
    }

    /// Polls until the job has ended (nothing of it runs any more) or `timeout` passes.
    fn wait(&self, timeout: Duration) -> Ended {
        let start = Instant::now();
        loop {
            let mut info = self.info();
            let state = info.get("JobState").cloned().unwrap_or_default();
            if FINAL_STATES.contains(&state.as_str()) {
                let exit_code = info.remove("ExitCode").unwrap_or_default();
                return Ended {
                    state,
                    exit_code,
                    info,
                };
            }
            assert!(
                start.elapsed() < timeout,
                "job {} still {state} after {timeout:?}\n{}",
                self.id,
                self.explain()
            );
            sleep(POLL);
        }
    }

    /// Polls until `path` (relative to the run directory) exists; its content.
    fn wait_for_file(&self, rel: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(dir) = self.try_run_dir()
                && let Ok(text) = std::fs::read_to_string(dir.join(rel))
            {
                return text;
            }
            assert!(
                start.elapsed() < timeout,
                "no {rel} after {timeout:?}\n{}",
                self.explain()
            );
            sleep(POLL);
        }
    }

    /// `sflow_output/<jobid>-<workflow>-<time>-<hex>/`, once the script has made it.
    fn try_run_dir(&self) -> Option<PathBuf> {
        let prefix = format!("{}-", self.id);
        std::fs::read_dir(self.dir.join("sflow_output"))
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
    }

    fn run_dir(&self) -> PathBuf {
        self.try_run_dir()
            .unwrap_or_else(|| panic!("no run directory for job {}\n{}", self.id, self.explain()))
    }

    /// A file of the run directory ("" when it does not exist).
    fn file(&self, rel: &str) -> String {
        std::fs::read_to_string(self.run_dir().join(rel)).unwrap_or_default()
    }

    /// The messages of a task's log: each line without the runtime's timestamp prefix
    /// (`... - sflow.task.NAME - INFO - `); srun's `--label` (`0: `) is kept.
    fn log(&self, task: &str) -> Vec<String> {
        let marker = format!(" - sflow.task.{task} - INFO - ");
        self.file(&format!("{task}/{task}.log"))
            .lines()
            .map(|l| l.split_once(&marker).map_or(l, |(_, m)| m).to_owned())
            .collect()
    }

    /// The summary row of a task, split in columns (TASK STATE ATTEMPTS START DURATION EXIT NOTE…).
    fn summary_row(&self, task: &str) -> Vec<String> {
        let summary = self.file("summary.txt");
        summary
            .lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .find(|cols| cols.first().map(String::as_str) == Some(task))
            .unwrap_or_else(|| panic!("no row for {task} in the summary\n{}", self.explain()))
    }

    /// The allocation's node names in order.
    fn nodes(&self, ended: &Ended) -> Vec<String> {
        hostnames(&ended.info["NodeList"])
    }

    /// What a person debugging a failure wants to see: Slurm's view, the job's output, the
    /// summary and the events.
    fn explain(&self) -> String {
        let mut s = String::new();
        let out = slurm("scontrol", ["show", "job", &self.id]);
        let _ = writeln!(s, "--- scontrol show job {}\n{}", self.id, stdout(&out));
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().ends_with(".out") {
                    let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                    let _ = writeln!(s, "--- {}\n{text}", e.path().display());
                }
            }
        }
        if let Some(dir) = self.try_run_dir() {
            let events = std::fs::read_to_string(dir.join("events.log")).unwrap_or_default();
            let _ = writeln!(s, "--- events.log\n{events}");
        }
        s
    }
}

/// Asserts the job's final state and exit code, showing everything on a mismatch.
fn assert_ended(job: &Job, ended: &Ended, state: &str, exit_code: &str) {
    assert!(
        ended.state == state && ended.exit_code == exit_code,
        "job {} ended {} with ExitCode={}, expected {state} with {exit_code}\n{}",
        job.id,
        ended.state,
        ended.exit_code,
        job.explain()
    );
}

fn assert_contains(job: &Job, haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected {needle:?} in:\n{haystack}\n{}",
        job.explain()
    );
}

/// No step of the job is left (the batch step included).
fn assert_no_steps(job: &Job) {
    let out = slurm("squeue", ["-h", "-s", "-j", &job.id]);
    let steps = stdout(&out);
    assert!(
        steps.trim().is_empty(),
        "steps still there:\n{steps}\n{}",
        job.explain()
    );
}

/// Every process named in the task's `pid.<host>` files is gone. They all run on this
/// machine (the test cluster's nodes are one host).
fn assert_processes_gone(job: &Job, task: &str, expected: usize) {
    let dir = job.run_dir().join(task);
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        if !e.file_name().to_string_lossy().starts_with("pid.") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        let pid = text.split_whitespace().nth(1).unwrap();
        seen += 1;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            !cmdline.starts_with("sleep"),
            "process {pid} of {task} ({}) still runs: {cmdline}\n{}",
            text.trim(),
            job.explain()
        );
    }
    assert_eq!(seen, expected, "pid files of {task} in {}", dir.display());
}

/// A TCP port on 127.0.0.1 that is free right now, below Linux's ephemeral range (32768 and
/// up), so that no srun of a concurrent job takes it before the server binds it.
fn free_port(salt: u32) -> u16 {
    let start = (std::process::id().wrapping_mul(7919) ^ salt.wrapping_mul(104_729)) % 10_000;
    (0..10_000)
        .map(|k| 20_000 + ((start + k) % 10_000) as u16)
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("a free port in 20000..30000")
}

// ── the scenarios ────────────────────────────────────────────────────────────

/// Scenario 1 (both variants): four concurrent steps, each with its own GPU pair.
fn check_gpu_slices(job: &Job, gres: bool) {
    let ended = job.wait(JOB_TIMEOUT);
    assert_ended(job, &ended, "COMPLETED", "0:0");
    let node = &job.nodes(&ended)[0];
    if gres {
        assert_eq!(
            ended.info.get("TresPerNode").map(String::as_str),
            Some("gres:gpu:8")
        );
    }
    for k in 0..4 {
        let task = format!("worker_{k}");
        let log = job.log(&task).join("\n");
        let want = format!(
            "0: host={node} replica={k} CUDA_VISIBLE_DEVICES={},{} slurm_gpus={}",
            2 * k,
            2 * k + 1,
            if gres { "0,1,2,3,4,5,6,7" } else { "none" }
        );
        assert_contains(job, &log, &want);
        // Each replica waited until all four had arrived: they ran at the same time.
        assert_contains(job, &log, "0: barrier passed");
        assert_eq!(job.summary_row(&task)[1], "done");
    }
    assert_contains(
        job,
        &job.file("summary.txt"),
        "workflow e2e_gpu_slices succeeded",
    );
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-test-cluster up"]
fn e2e_1_gpu_slices() {
    let job = Job::submit("gpu_slices", &["gpu_slices.yaml"], &[]);
    check_gpu_slices(&job, false);
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-test-cluster up"]
fn e2e_1_gpu_slices_with_gres() {
    let job = Job::submit(
        "gpu_slices_gres",
        &["gpu_slices.yaml", "gpu_slices_gres.yaml"],
        &[],
    );
    check_gpu_slices(&job, true);
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-test-cluster up"]
fn e2e_2_sequential_replicas() {
    let job = Job::submit("sequential", &["sequential.yaml"], &[]);
    let ended = job.wait(JOB_TIMEOUT);
    assert_ended(&job, &ended, "COMPLETED", "0:0");
    let order = job.file("order.txt");
    let lines: Vec<&str> = order.lines().collect();
    let shape: Vec<String> = lines
        .iter()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        shape,
        [
            "start 0", "end 0", "start 1", "end 1", "start 2", "end 2", "after"
        ],
        "order.txt:\n{order}\n{}",
        job.explain()
    );
    // Each replica was a Slurm step of its own.
    let mut steps: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("start ")?.split(' ').nth(1))
        .collect();
    steps.dedup();
    assert_eq!(steps.len(), 3, "step ids in order.txt:\n{order}");
    for task in ["step_0", "step_1", "step_2", "after"] {
        assert_eq!(job.summary_row(task)[1], "done");
    }
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-test-cluster up"]
fn e2e_3_cartesian_sweep() {
    let job = Job::submit("sweep", &["sweep.yaml"], &[]);
    let ended = job.wait(JOB_TIMEOUT);
    assert_ended(&job, &ended, "COMPLETED", "0:0");
    let replicas = [
        ("0_001_32", "0.001", 32),
        ("0_001_64", "0.001", 64),
        ("0_01_32", "0.01", 32),
        ("0_01_64", "0.01", 64),
    ];
    for (k, (suffix, lr, bs)) in replicas.iter().enumerate() {
        let task = format!("experiment_{suffix}");
        let log = job.log(&task);
        assert_eq!(
            log,
            [
                format!("0: env LR={lr} BS={bs} replica={k}"),
                format!("0: expr LR={lr} BS={bs} double={}", bs * 2)
            ],
            "log of {task}\n{}",
            job.explain()
        );
        assert_eq!(job.summary_row(&task)[1], "done");
    }
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-test-cluster up"]
fn e2e_4_two_nodes() {
    let job = Job::submit("two_nodes", &["two_nodes.yaml"], &[]);
    let ended = job.wait(JOB_TIMEOUT);
    assert_ended(&job, &ended, "COMPLETED", "0:0");
    let nodes = job.nodes(&ended);
    assert_eq!(nodes.len(), 2, "allocation {nodes:?}");
    let (n0, n1) = (&nodes[0], &nodes[1]);
    assert_ne!(n0, n1);
    assert_eq!(
        job.log("first"),
        [format!("0: host={n0} assigned={n0}")],
        "{}",
        job.explain()
    );
    assert_eq!(
        job.log("second"),
        [format!("0: host={n1} assigned={n1} node1_expr={n1}")],
        "{}",
        job.explain()
    );
    // srun --label: line order across nodes is not fixed.
    let mut wide = job.log("wide");
    wide.sort();
    let gpus = "CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7";
    assert_eq!(
        wide,
        [
            format!("0: host={n0} assigned={n0},{n1} {gpus} node0_expr={n0}"),
            format!("1: host={n1} assigned={n0},{n1} {gpus} node0_expr={n0}"),
        ],
        "{}",
        job.explain()
    );
}

/// Scenario 5's job (each of its two tests submits its own).
fn server_client(name: &str, salt: u32) -> (Job, Ended, u16) {
    let port = free_port(salt);
    let job = Job::submit(
        name,
        &["server_client.yaml"],
        &["--set", &format!("PORT={port}")],
    );
    let ended = job.wait(JOB_TIMEOUT);
    (job, ended, port)
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-test-cluster up"]
fn e2e_5_server_and_client() {
    let (job, ended, port) = server_client("server_client", 1);
    assert_ended(&job, &ended, "COMPLETED", "0:0");
    let nodes = job.nodes(&ended);
    let (n0, n1) = (&nodes[0], &nodes[1]);
    assert_eq!(
        job.log("client"),
        [format!("0: client on {n1} got: hello from {n0}")],
        "{}",
        job.explain()
    );
    assert_contains(
        &job,
        &job.log("server").join("\n"),
        &format!("0: listening on 127.0.0.1:{port}"),
    );
    let events = job.file("events.log");
    let at = |what: &str| {
        events
            .find(what)
            .unwrap_or_else(|| panic!("no {what:?} in events.log\n{}", job.explain()))
    };
    assert!(
        at("ready server") < at("launched client"),
        "client started before the server was ready\n{events}"
    );
    assert!(at("finished client") < at("stopping server"), "{events}");
    let server = job.summary_row("server");
    assert_eq!(server[1], "stopped");
    assert_contains(&job, &server.join(" "), "service stopped at the end");
    assert_eq!(job.summary_row("client")[1], "done");
    // The server is gone: nothing listens on its port and no step is left.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still open"
    );
    assert_no_steps(&job);
}

/// SPEC 6: services are stopped with SIGTERM, a grace period, then SIGKILL. The server's
/// SIGTERM handler writes `server/stopped`.
#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-test-cluster up"]
fn e2e_5_server_gets_sigterm_before_sigkill() {
    let (job, ended, _) = server_client("server_sigterm", 2);
    assert_ended(&job, &ended, "COMPLETED", "0:0");
    let stopped = job.file("server/stopped");
    assert_eq!(
        stopped.trim(),
        "signal 15",
        "the server never saw SIGTERM; its log:\n{}\n{}",
        job.log("server").join("\n"),
        job.explain()
    );
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-test-cluster up"]
fn e2e_6_failing_task() {
    let job = Job::submit("failing", &["failing.yaml"], &[]);
    let ended = job.wait(JOB_TIMEOUT);
    assert_ended(&job, &ended, "FAILED", "1:0");
    let broken = job.summary_row("broken");
    assert_eq!(broken[1], "failed");
    assert_contains(&job, &broken.join(" "), "exited with status 3");
    assert_eq!(job.summary_row("downstream")[1], "skipped");
    assert_eq!(job.summary_row("bystander")[1], "stopped");
    assert_eq!(job.summary_row("prepare")[1], "done");
    let run = job.run_dir();
    assert!(!run.join("downstream-ran").exists(), "downstream ran");
    assert!(!run.join("downstream").exists(), "downstream was launched");
    assert_contains(
        &job,
        &job.file("events.log"),
        "FAILED broken: exited with status 3",
    );
    assert_contains(
        &job,
        &job.file("summary.txt"),
        "workflow e2e_failing failed (exit 1)",
    );
    assert_contains(&job, &job.log("broken").join("\n"), "0: about to fail");
    assert_no_steps(&job);
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-test-cluster up"]
fn e2e_7_scancel() {
    let job = Job::submit("cancelled", &["cancelled.yaml"], &[]);
    // Both replicas of `long` run on both nodes: four processes, four pid files.
    let start = Instant::now();
    loop {
        let n = ["long_0", "long_1"]
            .iter()
            .filter_map(|t| std::fs::read_dir(job.try_run_dir()?.join(t)).ok())
            .flat_map(|d| d.flatten())
            .filter(|e| e.file_name().to_string_lossy().starts_with("pid."))
            .count();
        if n == 4 {
            break;
        }
        assert!(
            start.elapsed() < JOB_TIMEOUT,
            "the steps did not start\n{}",
            job.explain()
        );
        sleep(POLL);
    }
    assert_eq!(job.state(), "RUNNING");
    let out = slurm("scancel", [&job.id]);
    assert!(out.status.success(), "scancel: {out:?}");
    let ended = job.wait(JOB_TIMEOUT);
    assert_eq!(ended.state, "CANCELLED", "{}", job.explain());
    assert_no_steps(&job);
    assert_processes_gone(&job, "long_0", 2);
    assert_processes_gone(&job, "long_1", 2);
    let summary = job.wait_for_file("summary.txt", Duration::from_secs(10));
    for task in ["long_0", "long_1"] {
        let row = job.summary_row(task);
        assert_eq!(row[1], "stopped", "{summary}");
        assert_contains(&job, &row.join(" "), "stopped by SIGTERM");
    }
    assert_eq!(job.summary_row("later")[1], "skipped");
    assert!(!job.run_dir().join("later-ran").exists(), "later ran");
    assert_contains(&job, &summary, "workflow e2e_cancelled failed (exit 143)");
}

#[test]
#[ignore = "needs a Slurm cluster: scripts/slurm-test-cluster up"]
fn e2e_8_time_limit() {
    let job = Job::submit("time_limit", &["time_limit.yaml"], &["-t", "2"]);
    // Slurm signals up to 60 s (plus its 30 s tick) before the 2-minute limit.
    let ended = job.wait(Duration::from_secs(360));
    assert_eq!(
        ended.info.get("TimeLimit").map(String::as_str),
        Some("00:02:00")
    );
    // The script ended itself on the early SIGTERM (exit 143): FAILED; had Slurm killed it at
    // the limit, the state would be TIMEOUT and there would be no summary.
    assert_ended(&job, &ended, "FAILED", "143:0");
    let summary = job.file("summary.txt");
    let row = job.summary_row("sleeper");
    assert_eq!(row[1], "stopped", "{summary}");
    assert_contains(&job, &row.join(" "), "stopped by SIGTERM");
    assert_contains(&job, &summary, "workflow e2e_time_limit failed (exit 143)");
    assert_contains(
        &job,
        &job.file("events.log"),
        "received SIGTERM: stopping every task",
    );
    assert_no_steps(&job);
    assert_processes_gone(&job, "sleeper", 1);
}
