//! The command line. Input: arguments, workflow files, stdout/stderr. Output: the script,
//! plan or diagnostics, and an exit code: 0 ok, 1 a user error (diagnostics on stderr,
//! nothing on stdout), 2 a usage or IO error. Guarantee: the only place that touches
//! files and streams; `-o` files are written atomically (a temporary file, then rename).

use crate::{Output, Request, lower, plan, report};
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sflow",
    version,
    about = "Compile sflow workflows (YAML) into one self-contained Slurm batch script",
    after_help = "Examples:\n  sflow compile wf.yaml > job.sh && sbatch job.sh\n  sflow plan wf.yaml --set CONCURRENCY='[16,32]'\n  sflow check -f slurm.yaml -f workload.yaml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the batch script for a workflow (stdout, or -o FILE)
    #[command(
        after_help = "Examples:\n  sflow compile wf.yaml > job.sh && sbatch job.sh\n  sflow compile -f slurm.yaml -f workload.yaml --set NUM_WORKERS=8 -o job.sh\n  sflow compile wf.yaml -p gpu -A myproj -t 2h -e --gres=gpu:8 -o job.sh"
    )]
    Compile(CompileArgs),
    /// Check a workflow and print every diagnostic; write nothing
    #[command(
        after_help = "Examples:\n  sflow check wf.yaml\n  sflow check -f base.yaml -f override.yaml --set BATCH=[16,32]"
    )]
    Check(CheckArgs),
    /// Show the expanded plan: tasks, dependencies, nodes and GPUs
    #[command(
        after_help = "Examples:\n  sflow plan wf.yaml\n  sflow plan wf.yaml --json | jq '.tasks[].cuda_visible_devices'\n  sflow plan wf.yaml -N 4 --set NUM_WORKERS=8"
    )]
    Plan(PlanArgs),
}

#[derive(Args)]
struct InputArgs {
    /// Workflow files, merged by name in order
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// More workflow files (same as positional files; order is kept)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    more: Vec<PathBuf>,
    /// Override a top-level variable (a JSON list sets its domain)
    #[arg(long = "set", value_name = "NAME=VALUE")]
    sets: Vec<String>,
    /// Override an artifact's URI
    #[arg(long = "artifact", value_name = "NAME=URI")]
    artifacts: Vec<String>,
    /// Drop dependencies on absent tasks whose names match GLOB
    #[arg(short = 'M', long = "missable-tasks", value_name = "GLOB")]
    missable: Vec<String>,
    /// Slurm node count (replaces the backend's `nodes` before planning)
    #[arg(short = 'N', long = "nodes", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    nodes: Option<u32>,
}

#[derive(Args)]
struct HeaderArgs {
    /// #SBATCH --partition
    #[arg(short = 'p', long)]
    partition: Option<String>,
    /// #SBATCH --account
    #[arg(short = 'A', long)]
    account: Option<String>,
    /// #SBATCH --time (90m, 2h, 1-00:00:00, …)
    #[arg(short = 't', long)]
    time: Option<String>,
    /// #SBATCH --job-name (default: the backend's job_name, else the workflow name)
    #[arg(short = 'J', long = "job-name")]
    job_name: Option<String>,
    /// An extra #SBATCH option, e.g. -e --gres=gpu:8 (repeatable)
    #[arg(
        short = 'e',
        long = "sbatch-arg",
        value_name = "OPTION",
        allow_hyphen_values = true
    )]
    sbatch_args: Vec<String>,
    /// The workspace in the job (default: the submit directory)
    #[arg(long = "workspace-dir", value_name = "DIR")]
    workspace: Option<String>,
    /// Where run directories go (default: <workspace>/sflow_output)
    #[arg(long = "output-dir", value_name = "DIR")]
    output_dir: Option<String>,
}

#[derive(Args)]
struct CompileArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    header: HeaderArgs,
    /// Write the script here (atomically) instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    header: HeaderArgs,
}

#[derive(Args)]
struct PlanArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    header: HeaderArgs,
    /// Print the plan as JSON
    #[arg(long)]
    json: bool,
}

/// Runs the command line; returns the process exit code.
pub fn run() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let sub = matches.subcommand().map(|(_, m)| m);
    match cli.command {
        Command::Compile(args) => compile(&args, sub),
        Command::Check(args) => check(&args.input, &args.header, sub),
        Command::Plan(args) => plan_cmd(&args, sub),
    }
}

/// Input files in command-line order, positional and `-f` interleaved as typed.
fn ordered_files(input: &InputArgs, matches: Option<&ArgMatches>) -> Vec<PathBuf> {
    let mut indexed: Vec<(usize, PathBuf)> = Vec::new();
    if let Some(m) = matches {
        for (id, list) in [("files", &input.files), ("more", &input.more)] {
            if let Some(indices) = m.indices_of(id) {
                indexed.extend(indices.zip(list.iter().cloned()));
            }
        }
    }
    if indexed.is_empty() {
        return input.files.iter().chain(&input.more).cloned().collect();
    }
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, p)| p).collect()
}

fn request(
    input: &InputArgs,
    header: &HeaderArgs,
    matches: Option<&ArgMatches>,
) -> Result<Request, ExitCode> {
    let files = ordered_files(input, matches);
    if files.is_empty() {
        eprintln!("error: no workflow file given (sflow compile wf.yaml)");
        return Err(ExitCode::from(2));
    }
    let mut texts = Vec::new();
    for path in files {
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => texts.push((path.display().to_string(), text)),
                Err(_) => {
                    eprintln!("error: {} is not UTF-8 text", path.display());
                    return Err(ExitCode::from(1));
                }
            },
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return Err(ExitCode::from(2));
            }
        }
    }
    Ok(Request {
        files: texts,
        sets: input.sets.clone(),
        artifacts: input.artifacts.clone(),
        missable: input.missable.clone(),
        nodes: input.nodes,
        options: lower::Options {
            job_name: header.job_name.clone(),
            partition: header.partition.clone(),
            account: header.account.clone(),
            time: header.time.clone(),
            sbatch_args: header.sbatch_args.clone(),
            workspace: header.workspace.clone(),
            output_dir: header.output_dir.clone(),
        },
    })
}

/// Prints diagnostics; returns the plan when there were no errors.
fn planned(output: &Output) -> Option<&plan::Plan> {
    if !output.diagnostics.is_empty() {
        eprint!("{}", output.render_diagnostics());
    }
    output.plan.as_ref()
}

fn compile(args: &CompileArgs, matches: Option<&ArgMatches>) -> ExitCode {
    let request = match request(&args.input, &args.header, matches) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let output = crate::plan(&request);
    let Some(plan) = planned(&output) else {
        return ExitCode::from(1);
    };
    let script = crate::script(&request, plan);
    match &args.output {
        Some(path) => match write_atomically(path, script.as_bytes(), true) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                ExitCode::from(2)
            }
        },
        None => print_out(&script),
    }
}

fn check(input: &InputArgs, header: &HeaderArgs, matches: Option<&ArgMatches>) -> ExitCode {
    let request = match request(input, header, matches) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let output = crate::plan(&request);
    match planned(&output) {
        Some(plan) => {
            eprintln!(
                "ok: workflow {} ({} task{})",
                plan.workflow,
                plan.tasks.len(),
                if plan.tasks.len() == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        None => ExitCode::from(1),
    }
}

fn plan_cmd(args: &PlanArgs, matches: Option<&ArgMatches>) -> ExitCode {
    let request = match request(&args.input, &args.header, matches) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let output = crate::plan(&request);
    let Some(plan) = planned(&output) else {
        return ExitCode::from(1);
    };
    print_out(&if args.json {
        report::json(plan)
    } else {
        report::table(plan)
    })
}

fn print_out(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes `bytes` to a temporary file next to `path`, then renames it into place.
pub fn write_atomically(path: &Path, bytes: &[u8], executable: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.sflow-tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        #[cfg(unix)]
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
