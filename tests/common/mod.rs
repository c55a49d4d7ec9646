//! Helpers shared by the integration tests: compiling workflows through the library,
//! checking scripts with bash and shellcheck, and locating `../shared`.

use sflow::{Request, lower};
use std::path::{Path, PathBuf};
use std::process::Command;

pub mod http;
pub mod job;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shared reference folder next to the crate, or `None` with a printed note.
pub fn shared() -> Option<PathBuf> {
    let dir = root().join("../shared");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("note: {} is absent; skipping", dir.display());
        None
    }
}

/// Splits an argument line the way a shell would for simple quoting.
pub fn split_args(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// A request from files and command-line style options (the subset tests use).
pub fn request(files: Vec<(String, String)>, args: &[String]) -> Request {
    let mut r = Request {
        files,
        ..Request::default()
    };
    let mut o = lower::Options::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--set" => r.sets.push(value()),
            "--artifact" => r.artifacts.push(value()),
            "-M" | "--missable-tasks" => r.missable.push(value()),
            "-N" | "--nodes" => r.nodes = value().parse().ok(),
            "-J" => o.job_name = Some(value()),
            "-p" => o.partition = Some(value()),
            "-A" => o.account = Some(value()),
            "-t" => o.time = Some(value()),
            "-e" => o.sbatch_args.push(value()),
            "--workspace-dir" => o.workspace = Some(value()),
            "--output-dir" => o.output_dir = Some(value()),
            other => panic!("unknown test option {other}"),
        }
    }
    r.options = o;
    r
}

/// Options written on a fixture's first line: `# args: --set X=1`.
pub fn fixture_args(text: &str) -> Vec<String> {
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("# args:"))
        .map(split_args)
        .unwrap_or_default()
}

/// Compiles YAML text; the script, or the rendered diagnostics.
pub fn compile(name: &str, yaml: &str, args: &[String]) -> Result<(String, String), String> {
    let request = request(vec![(name.to_string(), yaml.to_string())], args);
    let output = sflow::plan(&request);
    let diagnostics = output.render_diagnostics();
    match &output.plan {
        Some(plan) => Ok((sflow::script(&request, plan), diagnostics)),
        None => Err(diagnostics),
    }
}

/// Compiles a file of the repository (fixture options from its first line).
pub fn compile_file(path: &Path) -> Result<(String, String), String> {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    compile(&name, &text, &fixture_args(&text))
}

/// The script with the fixed runtime block replaced by one line (snapshots show the
/// workflow; the runtime has tests of its own).
pub fn elide_runtime(script: &str) -> String {
    script.replace(
        sflow::emit::RUNTIME,
        "# <the sflow runtime: templates/runtime.sh>\n",
    )
}

/// Fails unless bash parses the script and shellcheck finds no warning in it.
pub fn check_shell(script: &str, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.sh");
    std::fs::write(&path, script).unwrap();
    let bash = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        bash.status.success(),
        "{what}: bash -n failed:\n{}",
        String::from_utf8_lossy(&bash.stderr)
    );
    let sc = Command::new("shellcheck")
        .args(["-s", "bash", "-S", "warning"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("{what}: shellcheck is required for this test and could not run ({e}); install it (apt-get install shellcheck)")
        });
    assert!(
        sc.status.success(),
        "{what}: shellcheck found problems:\n{}",
        String::from_utf8_lossy(&sc.stdout)
    );
}

/// Runs the `sflow` binary in `dir` with extra environment variables.
pub fn sflow(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sflow"))
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// `PATH` with the stand-in Slurm commands of `tests/shims` first.
pub fn shim_path() -> String {
    format!(
        "{}:{}",
        root().join("tests/shims").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Lossy UTF-8 text of an output stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes files into a new temporary directory (parent directories created).
pub fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}
