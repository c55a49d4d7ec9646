//! Running generated scripts for real in tests: compile a workflow into a temporary
//! directory, run it with bash (local backend) or against the fake Slurm shims in
//! `tests/shims`, in its own session so that leftovers can be found, with a hard bound
//! on the wait so a hang fails the test instead of blocking it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

pub struct Job {
    pub dir: Rc<tempfile::TempDir>,
    pub script: PathBuf,
}

/// What a run left: exit code, output, and the run directory (kept while this lives).
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub run_dir: PathBuf,
    pub elapsed: Duration,
    _dir: Rc<tempfile::TempDir>,
}

/// Compiles `yaml` (with command-line style `args`) into `job.sh` in a fresh directory;
/// the script must pass `bash -n` and shellcheck.
pub fn compile(yaml: &str, args: &[&str]) -> Job {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (script, _) = super::compile("wf.yaml", yaml, &args)
        .unwrap_or_else(|d| panic!("the workflow did not compile:\n{d}"));
    super::check_shell(&script, "the generated script");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.sh");
    std::fs::write(&path, script).unwrap();
    Job {
        dir: Rc::new(dir),
        script: path,
    }
}

/// Seconds between SIGTERM and SIGKILL in tests (the scripts default to 10; the
/// environment may set it).
pub const GRACE: u64 = 3;

/// How to run a script.
pub enum Launch {
    Local,
    /// Against the fake srun/scontrol/getent, in a pretend allocation of N nodes.
    Slurm(u32),
}

impl Job {
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn command(&self, launch: &Launch) -> Command {
        let mut cmd = Command::new("setsid");
        cmd.arg("bash")
            .arg(&self.script)
            .current_dir(self.dir.path())
            .env("SFLOW_OUTPUT_DIR", self.dir.path().join("out"))
            .env("SFLOW_STOP_GRACE", GRACE.to_string())
            .env_remove("SLURM_JOB_ID")
            .env_remove("SLURM_JOB_NODELIST")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Launch::Slurm(nodes) = launch {
            let shims = super::root().join("tests/shims");
            let path = format!(
                "{}:{}",
                shims.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            cmd.env("PATH", path)
                .env("SLURM_JOB_ID", "4242")
                .env("SLURM_JOB_NODELIST", format!("node[0-{}]", nodes - 1))
                .env("SLURM_NNODES", nodes.to_string())
                .env("SLURM_SUBMIT_DIR", self.dir.path())
                .env("FAKE_SLURM_LOG", self.dir.path().join("slurm.log"));
        }
        cmd
    }

    /// Runs to the end (at most `limit`), then checks that nothing it started is left.
    pub fn run(&self, launch: Launch, limit: Duration) -> Outcome {
        let child = self
            .command(&launch)
            .spawn()
            .expect("setsid and bash are needed");
        self.finish(child, limit)
    }

    /// Waits for a started script, with a bound; kills its whole session on a hang.
    pub fn finish(&self, child: Child, limit: Duration) -> Outcome {
        let start = Instant::now();
        let sid = child.id();
        let output = wait_bounded(child, limit).unwrap_or_else(|| {
            kill_session(sid);
            panic!("the script did not finish within {limit:?}");
        });
        let elapsed = start.elapsed();
        let leftovers = wait_for_empty_session(sid, Duration::from_secs(5));
        assert!(
            leftovers.is_empty(),
            "processes left behind after the script exited:\n{leftovers}"
        );
        let out = self.dir.path().join("out");
        let run_dir = std::fs::read_dir(&out)
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path())
            .unwrap_or(out);
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            run_dir,
            elapsed,
            _dir: self.dir.clone(),
        }
    }
}

impl Outcome {
    pub fn file(&self, rel: &str) -> String {
        std::fs::read_to_string(self.run_dir.join(rel)).unwrap_or_else(|e| {
            panic!(
                "{rel}: {e}\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The lines task `name` printed, without the timestamp prefix and rank label.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.text_lines(&format!("{name}/{name}.log"))
    }

    /// The lines task `name` printed, with srun's `N: ` rank label.
    pub fn ranked_lines(&self, name: &str) -> Vec<String> {
        self.log_lines(&format!("{name}/{name}.log"))
    }

    /// The lines of a log file, without the timestamp prefix and without srun's `N: `
    /// rank label (so one assertion holds on both backends).
    pub fn text_lines(&self, rel: &str) -> Vec<String> {
        self.log_lines(rel)
            .into_iter()
            .map(|l| match l.split_once(": ") {
                Some((rank, rest))
                    if rank.chars().all(|c| c.is_ascii_digit()) && !rank.is_empty() =>
                {
                    rest.to_string()
                }
                _ => l,
            })
            .collect()
    }

    /// The lines of a log file of the run directory, without the timestamp prefix.
    pub fn log_lines(&self, rel: &str) -> Vec<String> {
        self.file(rel)
            .lines()
            .map(|l| l.splitn(8, ' ').nth(7).unwrap_or("").to_string())
            .collect()
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.run_dir.join(rel).exists()
    }

    pub fn summary_row(&self, task: &str) -> String {
        self.file("summary.txt")
            .lines()
            .find(|l| l.split_whitespace().next() == Some(task))
            .unwrap_or_else(|| panic!("no summary row for {task}"))
            .to_string()
    }

    pub fn state(&self, task: &str) -> String {
        self.summary_row(task)
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string()
    }

    pub fn assert_code(&self, want: i32) {
        assert_eq!(
            self.code, want,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
    }
}

/// The workflow with a one-node, 8-GPU Slurm backend added (when it declares none).
pub fn with_slurm_backend(yaml: &str) -> String {
    if yaml.contains("\nbackends:") {
        return yaml.to_string();
    }
    yaml.replacen(
        "version: \"0.1\"\n",
        "version: \"0.1\"\nbackends:\n  - {name: cluster, type: slurm, nodes: 1, gpus_per_node: 8}\n",
        1,
    )
}

/// Runs the workflow twice: on the local backend, and on a Slurm backend against the
/// fake srun; `check` sees each outcome.
pub fn on_both_backends(yaml: &str, args: &[&str], limit: Duration, check: impl Fn(&Outcome)) {
    for slurm in [false, true] {
        let (yaml, launch) = if slurm {
            (with_slurm_backend(yaml), Launch::Slurm(1))
        } else {
            (yaml.to_string(), Launch::Local)
        };
        eprintln!(
            "running on the {} backend",
            if slurm { "slurm" } else { "local" }
        );
        check(&compile(&yaml, args).run(launch, limit));
    }
}

fn wait_bounded(mut child: Child, limit: Duration) -> Option<std::process::Output> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().ok(),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => return None,
        }
    }
}

/// Processes still in session `sid`, waiting up to `grace` for them to go.
fn wait_for_empty_session(sid: u32, grace: Duration) -> String {
    let start = Instant::now();
    loop {
        let left = session_processes(sid);
        if left.is_empty() || start.elapsed() > grace {
            if !left.is_empty() {
                kill_session(sid);
            }
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn session_processes(sid: u32) -> String {
    let out = Command::new("ps")
        .args(["-e", "-o", "sid=,pid=,stat=,args="])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            let mut f = l.split_whitespace();
            f.next() == Some(&sid.to_string()) && !f.nth(1).is_some_and(|s| s.starts_with('Z'))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn kill_session(sid: u32) {
    let _ = Command::new("pkill")
        .args(["-KILL", "-s", &sid.to_string()])
        .status();
}

/// Reads the integer a task wrote to a file (e.g. `date +%s%N`).
pub fn stamp(path: &Path) -> u128 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}
