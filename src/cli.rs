//! The command line. Input: arguments, workflow files and CSVs, stdout/stderr. Output: the
//! script, plan, composed YAML, graph, schema or completions, or diagnostics, and an exit
//! code: 0 ok, 1 a user error (diagnostics on stderr, nothing on stdout), 2 a usage or IO
//! error (a failed `sbatch`, Graphviz missing). Guarantee: the only place that touches
//! files, streams and other programs (`sbatch`, `dot`); `-o` files are written atomically
//! (a temporary file, then rename) and a bulk run writes nothing unless every row compiled.

use crate::{Output, Request, bulk, compose, graph, lower, plan, report, schema};
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};

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
    /// Write the batch script for a workflow (stdout, or -o FILE); one per CSV row with --bulk-input
    #[command(
        after_help = "Examples:\n  sflow compile wf.yaml > job.sh && sbatch job.sh\n  sflow compile -f slurm.yaml -f workload.yaml --set NUM_WORKERS=8 -o job.sh\n  sflow compile --bulk-input jobs.csv --row 1:4 -o jobs/"
    )]
    Compile(CompileArgs),
    /// Check a workflow and print every diagnostic; write nothing
    #[command(
        after_help = "Examples:\n  sflow check wf.yaml\n  sflow check -f base.yaml -f override.yaml --set BATCH=[16,32]\n  sflow check --bulk-input jobs.csv"
    )]
    Check(CheckArgs),
    /// Show the expanded plan: tasks, dependencies, nodes and GPUs
    #[command(
        after_help = "Examples:\n  sflow plan wf.yaml\n  sflow plan wf.yaml --json | jq '.tasks[].cuda_visible_devices'\n  sflow plan --bulk-input jobs.csv --row -1"
    )]
    Plan(PlanArgs),
    /// Write the merged workflow as one YAML file (--resolve: inline compile-time variables)
    #[command(
        after_help = "Examples:\n  sflow compose -f slurm.yaml -f workload.yaml -o merged.yaml\n  sflow compose slurm.yaml workload.yaml --set NUM_WORKERS=4 --resolve\n  sflow compose merged.yaml -M 'agg_*' --artifact MODEL=fs:///models/m"
    )]
    Compose(ComposeArgs),
    /// Compile, write the script next to the first input (or -o), and sbatch it
    #[command(
        after_help = "Examples:\n  sflow submit wf.yaml -p gpu -A myproj -t 2h\n  sflow submit -f slurm.yaml -f workload.yaml -o runs/job.sh\n  sflow submit --bulk-input jobs.csv --row 2,5 -o jobs/"
    )]
    Submit(SubmitArgs),
    /// Draw the concrete task graph (Mermaid, DOT, or SVG/PNG through Graphviz)
    #[command(
        after_help = "Examples:\n  sflow graph wf.yaml > graph.mmd\n  sflow graph wf.yaml --format dot | dot -Tpdf -o graph.pdf\n  sflow graph wf.yaml --format svg -o graph.svg"
    )]
    Graph(GraphArgs),
    /// Print the JSON Schema of the workflow format (for editors and linters)
    #[command(
        long_about = "Print the JSON Schema (draft 2020-12) of the workflow format. Editors using yaml-language-server complete and check a workflow whose first line is\n\n  # yaml-language-server: $schema=./sflow.schema.json",
        after_help = "Examples:\n  sflow schema -o sflow.schema.json\n  sflow schema | jq '.\"$defs\".task_body.properties | keys'"
    )]
    Schema(SchemaArgs),
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  sflow completions bash > ~/.local/share/bash-completion/completions/sflow\n  sflow completions zsh > ~/.zfunc/_sflow\n  sflow completions fish > ~/.config/fish/completions/sflow.fish"
    )]
    Completions(CompletionsArgs),
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
struct BulkArgs {
    /// A CSV with one job per row: `sflow_config_file` (files, relative to the CSV),
    /// `job_name`, `missable_tasks`, and a column per variable or artifact to set
    #[arg(long = "bulk-input", value_name = "CSV")]
    bulk_input: Option<PathBuf>,
    /// Rows to use (1-based): 3, 1,4, 2:5 (5 excluded), -1 (the last), ::2; repeatable
    #[arg(
        long = "row",
        value_name = "SEL",
        requires = "bulk_input",
        allow_hyphen_values = true
    )]
    rows: Vec<String>,
}

#[derive(Args)]
struct CompileArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    header: HeaderArgs,
    #[command(flatten)]
    bulk: BulkArgs,
    /// Write the script here (atomically) instead of stdout; with --bulk-input, the
    /// directory for the scripts and index.csv
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    header: HeaderArgs,
    #[command(flatten)]
    bulk: BulkArgs,
}

#[derive(Args)]
struct PlanArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    header: HeaderArgs,
    #[command(flatten)]
    bulk: BulkArgs,
    /// Print the plan as JSON (with --bulk-input: a list with one plan per row)
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ComposeArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Inline every variable known when compiling and drop its declaration (sweep and
    /// replica-count variables, and values known only in the job, stay)
    #[arg(long)]
    resolve: bool,
    /// Write the YAML here (atomically) instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct SubmitArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    header: HeaderArgs,
    #[command(flatten)]
    bulk: BulkArgs,
    /// Where to write the script (default: next to the first file, named after it);
    /// with --bulk-input, the directory (default: next to the CSV, `<name>-jobs`)
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
    Svg,
    Png,
}

#[derive(Args)]
struct GraphArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Output format (svg and png need Graphviz's `dot`)
    #[arg(long, value_enum, default_value = "mermaid")]
    format: GraphFormat,
    /// Write here (atomically) instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct SchemaArgs {
    /// Write here (atomically) instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    shell: Shell,
}

/// Runs the command line; returns the process exit code.
pub fn run() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let sub = matches.subcommand().map(|(_, m)| m);
    let result = match cli.command {
        Command::Compile(args) => compile(&args, sub),
        Command::Check(args) => check(&args, sub),
        Command::Plan(args) => plan_cmd(&args, sub),
        Command::Compose(args) => compose_cmd(&args, sub),
        Command::Submit(args) => submit(&args, sub),
        Command::Graph(args) => graph_cmd(&args, sub),
        Command::Schema(args) => emit(&schema::text(), args.output.as_deref(), false),
        Command::Completions(args) => {
            let mut out = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "sflow", &mut out);
            print_bytes(&out)
        }
    };
    result.unwrap_or_else(|code| code)
}

/// What a command returns: its exit code, or an early exit code after printing why.
type Outcome = Result<ExitCode, ExitCode>;

/// Prints an error and gives exit code 2 (usage or IO).
fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
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

/// Reads a workflow file: its text, or the exit code (2 unreadable, 1 not UTF-8).
fn read_text(path: &Path) -> Result<String, (ExitCode, String)> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            (
                ExitCode::from(1),
                format!("{} is not UTF-8 text", path.display()),
            )
        }),
        Err(e) => Err((
            ExitCode::from(2),
            format!("cannot read {}: {e}", path.display()),
        )),
    }
}

/// The request without files: overrides and header options.
fn base_request(input: &InputArgs, header: Option<&HeaderArgs>) -> Request {
    let options = match header {
        Some(header) => lower::Options {
            job_name: header.job_name.clone(),
            partition: header.partition.clone(),
            account: header.account.clone(),
            time: header.time.clone(),
            sbatch_args: header.sbatch_args.clone(),
            workspace: header.workspace.clone(),
            output_dir: header.output_dir.clone(),
        },
        None => lower::Options::default(),
    };
    Request {
        files: Vec::new(),
        sets: input.sets.clone(),
        artifacts: input.artifacts.clone(),
        missable: input.missable.clone(),
        nodes: input.nodes,
        options,
    }
}

fn request(
    input: &InputArgs,
    header: Option<&HeaderArgs>,
    matches: Option<&ArgMatches>,
) -> Result<Request, ExitCode> {
    let files = ordered_files(input, matches);
    if files.is_empty() {
        eprintln!("error: no workflow file given (sflow compile wf.yaml)");
        return Err(ExitCode::from(2));
    }
    let mut request = base_request(input, header);
    for path in files {
        match read_text(&path) {
            Ok(text) => request.files.push((path.display().to_string(), text)),
            Err((code, message)) => {
                eprintln!("error: {message}");
                return Err(code);
            }
        }
    }
    Ok(request)
}

/// Prints diagnostics; returns the plan when there were no errors.
fn planned(output: &Output) -> Option<&plan::Plan> {
    if !output.diagnostics.is_empty() {
        eprint!("{}", output.render_diagnostics());
    }
    output.plan.as_ref()
}

/// A single workflow's request and plan (diagnostics printed), or the exit code.
fn single(
    input: &InputArgs,
    header: Option<&HeaderArgs>,
    matches: Option<&ArgMatches>,
) -> Result<(Request, plan::Plan), ExitCode> {
    let request = request(input, header, matches)?;
    let mut output = crate::plan(&request);
    planned(&output);
    match output.plan.take() {
        Some(plan) => Ok((request, plan)),
        None => Err(ExitCode::from(1)),
    }
}

/// One compiled row of a bulk CSV.
struct Compiled {
    job: bulk::Job,
    plan: plan::Plan,
}

/// Every selected row of `--bulk-input`, compiled; nothing when any row fails (each
/// failure printed with its row number).
fn bulk_compile(
    input: &InputArgs,
    header: &HeaderArgs,
    bulk_args: &BulkArgs,
    csv: &Path,
    matches: Option<&ArgMatches>,
) -> Result<Vec<Compiled>, ExitCode> {
    let text = read_text(csv).map_err(|(code, message)| {
        eprintln!("error: {message}");
        code
    })?;
    let dir = csv
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let cli_files: Vec<String> = ordered_files(input, matches)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let sheet = bulk::read(&text, &dir, &cli_files).map_err(|message| {
        eprintln!("error: {}: {message}", csv.display());
        ExitCode::from(1)
    })?;
    let selected = bulk::select(&bulk_args.rows, sheet.rows.len()).map_err(fail)?;
    let mut texts: HashMap<String, Result<String, String>> = HashMap::new();
    for row in &sheet.rows {
        for file in &row.files {
            if !texts.contains_key(file) {
                let text = read_text(Path::new(file)).map_err(|(_, message)| message);
                texts.insert(file.clone(), text);
            }
        }
    }
    let base = base_request(input, Some(header));
    let jobs = bulk::jobs(&sheet, &selected, &texts, &base).map_err(|problems| {
        for p in problems {
            eprintln!("error: {}: {p}", csv.display());
        }
        ExitCode::from(1)
    })?;
    let mut compiled = Vec::new();
    let mut failed = Vec::new();
    for job in jobs {
        let mut output = crate::plan(&job.request);
        if !output.diagnostics.is_empty() {
            eprintln!("── row {} ({}) ──", job.row.number, job.row.files.join(" "));
            eprint!("{}", output.render_diagnostics());
        }
        match output.plan.take() {
            Some(plan) => compiled.push(Compiled { job, plan }),
            None => failed.push(job.row.number),
        }
    }
    if !failed.is_empty() {
        let rows: Vec<String> = failed.iter().map(usize::to_string).collect();
        eprintln!(
            "error: row{} {} of {} did not compile; nothing was written",
            if failed.len() == 1 { "" } else { "s" },
            rows.join(", "),
            csv.display()
        );
        return Err(ExitCode::from(1));
    }
    Ok(compiled)
}

/// The scripts of compiled rows and their index lines, ready to write into a directory.
fn bulk_files(compiled: &[Compiled]) -> (Vec<(String, String)>, Vec<bulk::IndexLine>) {
    let rows = compiled.iter().map(|c| c.job.row.number).max().unwrap_or(1);
    let mut files = Vec::new();
    let mut index = Vec::new();
    for c in compiled {
        let job_name = bulk::job_name(&c.plan);
        let name = bulk::script_name(c.job.row.number, rows, &job_name);
        files.push((name.clone(), crate::script(&c.job.request, &c.plan)));
        index.push(bulk::IndexLine {
            row: c.job.row.number,
            job_name,
            script: name,
            files: c.job.row.files.clone(),
            overrides: c.job.overrides.clone(),
            job_id: None,
        });
    }
    (files, index)
}

/// Writes scripts and `index.csv` into `dir`: a new directory appears whole (written
/// beside it, then renamed); in an existing one each file is replaced atomically.
fn write_bulk(dir: &Path, scripts: &[(String, String)], index: &str) -> std::io::Result<()> {
    if dir.is_dir() {
        for (name, script) in scripts {
            write_atomically(&dir.join(name), script.as_bytes(), true)?;
        }
        return write_atomically(&dir.join("index.csv"), index.as_bytes(), false);
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "jobs".into());
    let tmp = parent.join(format!(".{name}.sflow-tmp-{}", std::process::id()));
    let result = (|| {
        std::fs::create_dir(&tmp)?;
        for (name, script) in scripts {
            write_atomically(&tmp.join(name), script.as_bytes(), true)?;
        }
        write_atomically(&tmp.join("index.csv"), index.as_bytes(), false)?;
        std::fs::rename(&tmp, dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn compile(args: &CompileArgs, matches: Option<&ArgMatches>) -> Outcome {
    if let Some(csv) = &args.bulk.bulk_input {
        let Some(dir) = &args.output else {
            return Err(fail(
                "--bulk-input writes one script per row: give the directory with -o DIR",
            ));
        };
        let compiled = bulk_compile(&args.input, &args.header, &args.bulk, csv, matches)?;
        let (scripts, index) = bulk_files(&compiled);
        write_bulk(dir, &scripts, &bulk::index_csv(&index))
            .map_err(|e| fail(format!("cannot write {}: {e}", dir.display())))?;
        eprintln!(
            "wrote {} script{} and index.csv to {}",
            scripts.len(),
            if scripts.len() == 1 { "" } else { "s" },
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (request, plan) = single(&args.input, Some(&args.header), matches)?;
    emit(
        &crate::script(&request, &plan),
        args.output.as_deref(),
        true,
    )
}

fn check(args: &CheckArgs, matches: Option<&ArgMatches>) -> Outcome {
    let tasks = |plan: &plan::Plan| {
        format!(
            "workflow {} ({} task{})",
            plan.workflow,
            plan.tasks.len(),
            if plan.tasks.len() == 1 { "" } else { "s" }
        )
    };
    if let Some(csv) = &args.bulk.bulk_input {
        for c in bulk_compile(&args.input, &args.header, &args.bulk, csv, matches)? {
            eprintln!("ok: row {}: {}", c.job.row.number, tasks(&c.plan));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (_, plan) = single(&args.input, Some(&args.header), matches)?;
    eprintln!("ok: {}", tasks(&plan));
    Ok(ExitCode::SUCCESS)
}

fn plan_cmd(args: &PlanArgs, matches: Option<&ArgMatches>) -> Outcome {
    if let Some(csv) = &args.bulk.bulk_input {
        let compiled = bulk_compile(&args.input, &args.header, &args.bulk, csv, matches)?;
        if args.json {
            let list: Vec<serde_json::Value> = compiled
                .iter()
                .map(|c| {
                    let plan: serde_json::Value =
                        serde_json::from_str(&report::json(&c.plan)).unwrap_or_default();
                    serde_json::json!({
                        "row": c.job.row.number,
                        "job_name": bulk::job_name(&c.plan),
                        "files": c.job.row.files,
                        "overrides": c.job.overrides.iter().map(|(f, v)| format!("{f} {v}")).collect::<Vec<_>>(),
                        "plan": plan,
                    })
                })
                .collect();
            let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
            text.push('\n');
            return print_out(&text);
        }
        let mut text = String::new();
        for (i, c) in compiled.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(&format!(
                "── row {}: {} ──\n",
                c.job.row.number,
                bulk::job_name(&c.plan)
            ));
            text.push_str(&report::table(&c.plan));
        }
        return print_out(&text);
    }
    let (_, plan) = single(&args.input, Some(&args.header), matches)?;
    print_out(&if args.json {
        report::json(&plan)
    } else {
        report::table(&plan)
    })
}

fn compose_cmd(args: &ComposeArgs, matches: Option<&ArgMatches>) -> Outcome {
    let request = request(&args.input, None, matches)?;
    let composed = compose::compose(&request, args.resolve);
    if !composed.diagnostics.is_empty() {
        eprint!("{}", composed.render_diagnostics());
    }
    let Some(yaml) = composed.yaml else {
        return Err(ExitCode::from(1));
    };
    if let Some(report) = &composed.inlined {
        if !report.removed.is_empty() {
            eprintln!("inlined: {}", report.removed.join(", "));
        }
        let kept: Vec<String> = report
            .kept
            .iter()
            .map(|(name, why)| format!("{name} ({})", why.describe()))
            .collect();
        if !kept.is_empty() {
            eprintln!("kept: {}", kept.join(", "));
        }
    }
    emit(&yaml, args.output.as_deref(), false)
}

fn graph_cmd(args: &GraphArgs, matches: Option<&ArgMatches>) -> Outcome {
    let (_, plan) = single(&args.input, None, matches)?;
    let (format, render) = match args.format {
        GraphFormat::Mermaid => (graph::Format::Mermaid, None),
        GraphFormat::Dot => (graph::Format::Dot, None),
        GraphFormat::Svg => (graph::Format::Dot, Some("svg")),
        GraphFormat::Png => (graph::Format::Dot, Some("png")),
    };
    let text = graph::render(&plan, format);
    let Some(kind) = render else {
        return emit(&text, args.output.as_deref(), false);
    };
    let bytes = graphviz(&text, kind)?;
    match &args.output {
        Some(path) => write_atomically(path, &bytes, false)
            .map(|()| ExitCode::SUCCESS)
            .map_err(|e| fail(format!("cannot write {}: {e}", path.display()))),
        None => print_bytes(&bytes),
    }
}

/// DOT text rendered by Graphviz's `dot -T<kind>`.
fn graphviz(dot: &str, kind: &str) -> Result<Vec<u8>, ExitCode> {
    let child = std::process::Command::new("dot")
        .arg(format!("-T{kind}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(format!(
                "--format {kind} needs Graphviz's `dot`, which is not installed (e.g. apt-get install graphviz); --format dot or mermaid prints the graph as text"
            )));
        }
        Err(e) => return Err(fail(format!("cannot run dot: {e}"))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(dot.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("dot failed: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "dot failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

/// Where the Slurm output file and the run directory of a submitted job will be.
fn log_places(plan: &plan::Plan, job_id: &str) -> (Option<String>, String) {
    let slurm = plan
        .sbatch
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("--output="))
        .map(|pattern| {
            pattern
                .replace("%x", &bulk::job_name(plan))
                .replace("%j", job_id)
        });
    let root = match (&plan.output_dir, &plan.workspace) {
        (Some(o), _) if o.starts_with('/') => o.clone(),
        (Some(o), Some(w)) => format!("{w}/{o}"),
        (Some(o), None) => o.clone(),
        (None, Some(w)) => format!("{w}/sflow_output"),
        (None, None) => "sflow_output".into(),
    };
    let run = format!("{root}/{job_id}-{}-<time>-<id>/", plan.workflow);
    (slurm, run)
}

/// `sbatch --parsable SCRIPT`: the job id.
fn sbatch(script: &Path) -> Result<String, String> {
    let out = std::process::Command::new("sbatch")
        .arg("--parsable")
        .arg(script)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                "sbatch is not on PATH (submit from a Slurm login node, or use `sflow compile`)"
                    .to_string()
            }
            _ => format!("cannot run sbatch: {e}"),
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "sbatch {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // `--parsable` prints `jobid` or `jobid;cluster`.
    let id = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| l.trim().split(';').next())
        .unwrap_or("")
        .to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("sbatch printed no job id: {stdout:?}"));
    }
    Ok(id)
}

fn submitted(path: &Path, plan: &plan::Plan, id: &str) {
    let (slurm, run) = log_places(plan, id);
    println!("submitted job {id}: {}", path.display());
    if let Some(slurm) = slurm {
        println!("  Slurm output: {slurm}");
    }
    println!("  task logs:    {run}<task>/<task>.log");
}

fn submit(args: &SubmitArgs, matches: Option<&ArgMatches>) -> Outcome {
    if let Some(csv) = &args.bulk.bulk_input {
        let compiled = bulk_compile(&args.input, &args.header, &args.bulk, csv, matches)?;
        let dir = args.output.clone().unwrap_or_else(|| {
            let stem = csv
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "bulk".into());
            csv.with_file_name(format!("{stem}-jobs"))
        });
        let (scripts, mut index) = bulk_files(&compiled);
        write_bulk(&dir, &scripts, &bulk::index_csv(&index))
            .map_err(|e| fail(format!("cannot write {}: {e}", dir.display())))?;
        let mut error = None;
        for (c, line) in compiled.iter().zip(index.iter_mut()) {
            let path = dir.join(&line.script);
            match sbatch(&path) {
                Ok(id) => {
                    submitted(&path, &c.plan, &id);
                    line.job_id = Some(id);
                }
                Err(e) => {
                    error = Some(format!("row {}: {e}", line.row));
                    break;
                }
            }
        }
        let index_path = dir.join("index.csv");
        write_atomically(&index_path, bulk::index_csv(&index).as_bytes(), false)
            .map_err(|e| fail(format!("cannot write {}: {e}", index_path.display())))?;
        if let Some(e) = error {
            let done = index.iter().filter(|l| l.job_id.is_some()).count();
            return Err(fail(format!(
                "{e}; {done} of {} jobs were submitted (see {})",
                index.len(),
                index_path.display()
            )));
        }
        println!("job ids recorded in {}", index_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let (request, plan) = single(&args.input, Some(&args.header), matches)?;
    let path = match &args.output {
        Some(p) => p.clone(),
        None => {
            let first = ordered_files(&args.input, matches)
                .into_iter()
                .next()
                .unwrap_or_default();
            first.with_extension("sh")
        }
    };
    let inputs = ordered_files(&args.input, matches);
    if path.extension().is_some_and(|e| e == "yaml" || e == "yml") || inputs.contains(&path) {
        return Err(fail(format!(
            "refusing to overwrite the workflow {}",
            path.display()
        )));
    }
    write_atomically(&path, crate::script(&request, &plan).as_bytes(), true)
        .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
    let id = sbatch(&path).map_err(fail)?;
    submitted(&path, &plan, &id);
    Ok(ExitCode::SUCCESS)
}

/// Text to stdout, or atomically to a file.
fn emit(text: &str, output: Option<&Path>, executable: bool) -> Outcome {
    match output {
        Some(path) => match write_atomically(path, text.as_bytes(), executable) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => Err(fail(format!("cannot write {}: {e}", path.display()))),
        },
        None => print_out(text),
    }
}

fn print_out(text: &str) -> Outcome {
    print_bytes(text.as_bytes())
}

fn print_bytes(bytes: &[u8]) -> Outcome {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(fail(format!("cannot write to stdout: {e}"))),
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
