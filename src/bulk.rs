//! Bulk sweeps: one compilation per row of a CSV file. Input: the CSV text, `--row`
//! selectors, the text of every workflow file the rows name, and the command line's own
//! request. Output: one `Request` per selected row (its files, `--set`, `--artifact`,
//! `-M` and job name), or every problem found, each naming its row or column.
//! Guarantee: pure (the caller reads the files); columns are checked against every row's
//! configuration before any row is compiled; command-line `--set`/`--artifact` win over
//! the CSV; empty cells change nothing.
//!
//! Columns (as the reference reads them): `sflow_config_file` (required; space-separated
//! paths relative to the CSV's directory, after the command line's own files),
//! `job_name`, `missable_tasks` (space-separated globs), and any other column names a
//! variable (global or workflow) or an artifact of some row's configuration.

use crate::diagnostic::suggest;
use crate::load::Node;
use crate::{Request, load_tree};
use std::collections::{BTreeSet, HashMap};

pub const CONFIG_COLUMN: &str = "sflow_config_file";
pub const JOB_NAME_COLUMN: &str = "job_name";
pub const MISSABLE_COLUMN: &str = "missable_tasks";

/// One data row of the CSV, as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// 1-based, counting data rows (the header is row 0).
    pub number: usize,
    /// Workflow files: the command line's, then the row's (joined to the CSV's
    /// directory), without repeats.
    pub files: Vec<String>,
    pub job_name: Option<String>,
    pub missable: Vec<String>,
    /// (column, value) for every other non-empty cell, in column order.
    pub values: Vec<(String, String)>,
}

/// The rows of a bulk CSV.
#[derive(Debug)]
pub struct Sheet {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// Reads the CSV. `dir` is the CSV's directory (row paths are relative to it);
/// `cli_files` come first in every row.
pub fn read(text: &str, dir: &str, cli_files: &[String]) -> Result<Sheet, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let Some(config) = columns.iter().position(|c| c == CONFIG_COLUMN) else {
        let mut message = format!("the CSV has no `{CONFIG_COLUMN}` column");
        if let Some(near) = suggest(CONFIG_COLUMN, columns.iter().map(String::as_str)) {
            message.push_str(&format!(" (found `{near}`)"));
        }
        return Err(message);
    };
    let mut seen = BTreeSet::new();
    for c in &columns {
        if c.is_empty() {
            return Err("the CSV header has an empty column name".into());
        }
        if !seen.insert(c.as_str()) {
            return Err(format!("the CSV has two columns named `{c}`"));
        }
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let number = i + 1;
        let record = record.map_err(|e| format!("row {number}: {e}"))?;
        let cell = |k: usize| record.get(k).map(str::trim).filter(|s| !s.is_empty());
        let mut files: Vec<String> = cli_files.to_vec();
        for path in cell(config).unwrap_or_default().split_whitespace() {
            let joined = if path.starts_with('/') || dir.is_empty() || dir == "." {
                path.to_string()
            } else {
                format!("{}/{path}", dir.trim_end_matches('/'))
            };
            if !files.contains(&joined) {
                files.push(joined);
            }
        }
        if files.is_empty() {
            return Err(format!(
                "row {number}: `{CONFIG_COLUMN}` is empty and no workflow file was given"
            ));
        }
        let mut row = Row {
            number,
            files,
            job_name: None,
            missable: Vec::new(),
            values: Vec::new(),
        };
        for (k, column) in columns.iter().enumerate() {
            let Some(value) = cell(k) else { continue };
            match column.as_str() {
                CONFIG_COLUMN => {}
                JOB_NAME_COLUMN => row.job_name = Some(value.to_string()),
                MISSABLE_COLUMN => {
                    row.missable = value.split_whitespace().map(String::from).collect();
                }
                _ => row.values.push((column.clone(), value.to_string())),
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err("the CSV has no data rows".into());
    }
    Ok(Sheet { columns, rows })
}

/// The 0-based indices of the rows `--row` selects, in the order given, each once.
/// A selector is a 1-based row number (negative: from the end), or a Python slice
/// `START:STOP[:STEP]` of row numbers with STOP excluded; several may be joined by commas.
/// No selector selects every row.
pub fn select(selectors: &[String], count: usize) -> Result<Vec<usize>, String> {
    if selectors.is_empty() {
        return Ok((0..count).collect());
    }
    let mut out: Vec<usize> = Vec::new();
    let n = count as i64;
    for selector in selectors {
        for part in selector.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("--row {selector:?}: empty selector"));
            }
            let bad = |why: &str| format!("--row {part:?}: {why}");
            // A row number (1-based, or negative from the end) as a 0-based Python index.
            let index = |s: &str| -> Result<Option<i64>, String> {
                let s = s.trim();
                if s.is_empty() {
                    return Ok(None);
                }
                let k: i64 = s
                    .parse()
                    .map_err(|_| bad(&format!("`{s}` is not a row number")))?;
                match k {
                    0 => Err(bad("rows are numbered from 1")),
                    k if k > 0 => Ok(Some(k - 1)),
                    k => Ok(Some(k)),
                }
            };
            let pieces: Vec<&str> = part.split(':').collect();
            let picked: Vec<i64> = match pieces.as_slice() {
                [single] => {
                    let i = index(single)?.unwrap_or_default();
                    let i = if i < 0 { n + i } else { i };
                    if i < 0 || i >= n {
                        return Err(bad(&format!(
                            "there {} {count} row{}",
                            if count == 1 { "is" } else { "are" },
                            if count == 1 { "" } else { "s" }
                        )));
                    }
                    vec![i]
                }
                [start, stop] | [start, stop, _] => {
                    let step = match pieces.get(2).map(|s| s.trim()) {
                        None | Some("") => 1,
                        Some(s) => s
                            .parse::<i64>()
                            .map_err(|_| bad(&format!("`{s}` is not a step")))?,
                    };
                    if step == 0 {
                        return Err(bad("the step cannot be zero"));
                    }
                    python_slice(index(start)?, index(stop)?, step, n)
                }
                _ => return Err(bad("expected N, START:STOP or START:STOP:STEP")),
            };
            for i in picked {
                let i = i as usize;
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
    }
    if out.is_empty() {
        return Err(format!("--row {} selects no row", selectors.join(" ")));
    }
    Ok(out)
}

/// Python's `range(n)[start:stop:step]`.
fn python_slice(start: Option<i64>, stop: Option<i64>, step: i64, n: i64) -> Vec<i64> {
    let clamp = |v: i64, low: i64, high: i64| v.max(low).min(high);
    let norm = |v: i64| if v < 0 { v + n } else { v };
    let mut out = Vec::new();
    if step > 0 {
        let mut i = start.map_or(0, |s| clamp(norm(s), 0, n));
        let end = stop.map_or(n, |s| clamp(norm(s), 0, n));
        while i < end {
            out.push(i);
            i += step;
        }
    } else {
        let mut i = start.map_or(n - 1, |s| clamp(norm(s), -1, n - 1));
        let end = stop.map_or(-1, |s| clamp(norm(s), -1, n - 1));
        while i > end {
            out.push(i);
            i += step;
        }
    }
    out
}

/// The names a configuration declares: top-level variables, workflow variables,
/// artifacts.
#[derive(Debug, Default)]
pub struct Names {
    pub variables: BTreeSet<String>,
    pub workflow_variables: BTreeSet<String>,
    pub artifacts: BTreeSet<String>,
}

impl Names {
    /// The names declared by a merged tree.
    pub fn of(root: &Node) -> Names {
        let names = |list: Option<&Node>| -> BTreeSet<String> {
            list.and_then(Node::items)
                .into_iter()
                .flatten()
                .filter_map(|d| d.get("name")?.as_str().map(String::from))
                .collect()
        };
        Names {
            variables: names(root.get("variables")),
            workflow_variables: names(root.get("workflow").and_then(|w| w.get("variables"))),
            artifacts: names(root.get("artifacts")),
        }
    }

    fn extend(&mut self, other: Names) {
        self.variables.extend(other.variables);
        self.workflow_variables.extend(other.workflow_variables);
        self.artifacts.extend(other.artifacts);
    }

    fn knows(&self, name: &str) -> bool {
        self.variables.contains(name)
            || self.workflow_variables.contains(name)
            || self.artifacts.contains(name)
    }

    fn all(&self) -> Vec<&str> {
        self.variables
            .iter()
            .chain(&self.workflow_variables)
            .chain(&self.artifacts)
            .map(String::as_str)
            .collect()
    }
}

/// The candidate with the smallest edit distance, however far.
fn nearest<'a>(name: &str, candidates: Vec<&'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .min_by_key(|c| strsim::osa_distance(&name.to_lowercase(), &c.to_lowercase()))
}

/// One selected row, ready to compile.
#[derive(Clone, Debug)]
pub struct Job {
    pub row: Row,
    pub request: Request,
    /// The row's own options, as command-line words (`--set K=V`, `--artifact`, `-M`,
    /// `-J`), for the index.
    pub overrides: Vec<(String, String)>,
}

/// The requests of the selected rows. `texts` holds every file the rows name (a
/// missing one is reported for the rows that need it); `base` carries the command
/// line's own `--set`, `--artifact`, `-M`, `-N` and header options.
pub fn jobs(
    sheet: &Sheet,
    selected: &[usize],
    texts: &HashMap<String, Result<String, String>>,
    base: &Request,
) -> Result<Vec<Job>, Vec<String>> {
    let mut problems = Vec::new();
    let request_of = |row: &Row| -> Result<Vec<(String, String)>, String> {
        row.files
            .iter()
            .map(|f| match texts.get(f) {
                Some(Ok(text)) => Ok((f.clone(), text.clone())),
                Some(Err(e)) => Err(format!("row {}: {e}", row.number)),
                None => Err(format!("row {}: {f} was not read", row.number)),
            })
            .collect()
    };
    // Every row's declared names, to check the columns.
    let mut known = Names::default();
    let mut per_row: HashMap<usize, Names> = HashMap::new();
    for row in &sheet.rows {
        let Ok(files) = request_of(row) else { continue };
        let request = Request {
            files,
            ..Request::default()
        };
        if let (_, Some(root), _) = load_tree(&request) {
            let names = Names::of(&root);
            per_row.insert(row.number, Names::of(&root));
            known.extend(names);
        }
    }
    let reserved = [CONFIG_COLUMN, JOB_NAME_COLUMN, MISSABLE_COLUMN];
    for column in &sheet.columns {
        if reserved.contains(&column.as_str()) || known.knows(column) {
            continue;
        }
        let mut message =
            format!("CSV column `{column}` is not a variable or artifact of any row's workflow");
        match suggest(column, known.all()) {
            Some(near) => message.push_str(&format!("; did you mean `{near}`?")),
            None => {
                if let Some(near) = nearest(column, known.all()) {
                    message.push_str(&format!(" (the nearest name is `{near}`)"));
                }
            }
        }
        problems.push(message);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let assigned = |list: &[String]| -> Vec<String> {
        list.iter()
            .map(|a| {
                a.split_once('=')
                    .map_or(a.as_str(), |(k, _)| k)
                    .trim()
                    .to_string()
            })
            .collect()
    };
    let cli_sets = assigned(&base.sets);
    let cli_artifacts = assigned(&base.artifacts);
    let mut jobs = Vec::new();
    for &i in selected {
        let row = &sheet.rows[i];
        let files = match request_of(row) {
            Ok(files) => files,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let names = per_row.get(&row.number);
        let mut request = Request {
            files,
            ..base.clone()
        };
        let mut sets = Vec::new();
        let mut artifacts = Vec::new();
        let mut overrides = Vec::new();
        for (column, value) in &row.values {
            let artifact = names.is_some_and(|n| n.artifacts.contains(column))
                && !names.is_some_and(|n| n.variables.contains(column));
            if artifact {
                if !cli_artifacts.contains(column) {
                    artifacts.push(format!("{column}={value}"));
                    overrides.push(("--artifact".into(), format!("{column}={value}")));
                }
            } else if !cli_sets.contains(column) {
                sets.push(format!("{column}={value}"));
                overrides.push(("--set".into(), format!("{column}={value}")));
            }
        }
        request.sets = sets.into_iter().chain(base.sets.iter().cloned()).collect();
        request.artifacts = artifacts
            .into_iter()
            .chain(base.artifacts.iter().cloned())
            .collect();
        for m in &row.missable {
            overrides.push(("-M".into(), m.clone()));
        }
        request.missable = base.missable.iter().chain(&row.missable).cloned().collect();
        if base.options.job_name.is_none()
            && let Some(j) = &row.job_name
        {
            request.options.job_name = Some(j.clone());
            overrides.push(("-J".into(), j.clone()));
        }
        jobs.push(Job {
            row: row.clone(),
            request,
            overrides,
        });
    }
    if problems.is_empty() {
        Ok(jobs)
    } else {
        Err(problems)
    }
}

/// A file name made of a row number and a job name (`03-bench.sh`).
pub fn script_name(row: usize, rows: usize, job_name: &str) -> String {
    let width = rows.to_string().len().max(2);
    let name: String = job_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    if name.is_empty() {
        format!("{row:0width$}.sh")
    } else {
        format!("{row:0width$}-{name}.sh")
    }
}

/// The job name a plan's script gives Slurm (its `--job-name`), else the workflow name.
pub fn job_name(plan: &crate::plan::Plan) -> String {
    plan.sbatch
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("--job-name="))
        .map_or_else(|| plan.workflow.clone(), String::from)
}

/// `index.csv`: one line per written script.
pub struct IndexLine {
    pub row: usize,
    pub job_name: String,
    pub script: String,
    pub files: Vec<String>,
    pub overrides: Vec<(String, String)>,
    pub job_id: Option<String>,
}

/// The index as CSV text (a `job_id` column when any line has one).
pub fn index_csv(lines: &[IndexLine]) -> String {
    let with_ids = lines.iter().any(|l| l.job_id.is_some());
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row", "job_name", "script", "input_files", "overrides"];
    if with_ids {
        header.push("job_id");
    }
    let _ = writer.write_record(&header);
    for l in lines {
        let overrides: Vec<String> = l
            .overrides
            .iter()
            .map(|(flag, value)| format!("{flag} {}", crate::emit::shell_word(value)))
            .collect();
        let mut record = vec![
            l.row.to_string(),
            l.job_name.clone(),
            l.script.clone(),
            l.files.join(" "),
            overrides.join(" "),
        ];
        if with_ids {
            record.push(l.job_id.clone().unwrap_or_default());
        }
        let _ = writer.write_record(&record);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(args: &[&str], n: usize) -> Result<Vec<usize>, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        select(&args, n).map(|v| v.into_iter().map(|i| i + 1).collect())
    }

    #[test]
    fn row_selectors_are_one_based_with_python_slices() {
        assert_eq!(sel(&[], 3), Ok(vec![1, 2, 3]));
        assert_eq!(sel(&["2"], 9), Ok(vec![2]));
        assert_eq!(sel(&["-1"], 9), Ok(vec![9]));
        assert_eq!(sel(&["1,3", "5"], 9), Ok(vec![1, 3, 5]));
        assert_eq!(sel(&["2:5"], 9), Ok(vec![2, 3, 4]));
        assert_eq!(sel(&[":3"], 9), Ok(vec![1, 2]));
        assert_eq!(sel(&["8:"], 9), Ok(vec![8, 9]));
        assert_eq!(sel(&["-2:"], 9), Ok(vec![8, 9]));
        assert_eq!(sel(&[":-7"], 9), Ok(vec![1, 2]));
        assert_eq!(sel(&["::4"], 9), Ok(vec![1, 5, 9]));
        assert_eq!(sel(&["::-4"], 9), Ok(vec![9, 5, 1]));
        assert_eq!(sel(&["3:100"], 5), Ok(vec![3, 4, 5]));
        assert_eq!(sel(&["2", "1:4"], 9), Ok(vec![2, 1, 3]));
        assert_eq!(sel(&[" 2 , 4 "], 9), Ok(vec![2, 4]));
        for bad in ["0", "10", "-10", "a", "1:2:0", "1:2:3:4", "", "0:3", "1,,2"] {
            assert!(sel(&[bad], 9).is_err(), "{bad:?} accepted");
        }
        assert!(sel(&["5:2"], 9).unwrap_err().contains("selects no row"));
    }

    #[test]
    fn rows_join_paths_to_the_csv_directory_and_skip_empty_cells() {
        let csv = "sflow_config_file,A,job_name,missable_tasks,B\n\
                   a.yaml sub/b.yaml,1,j1,x* y,\n\
                   a.yaml /abs/c.yaml,,,,\"q,r\"\n";
        let sheet = read(csv, "dir", &["cli.yaml".into()]).unwrap();
        assert_eq!(sheet.rows.len(), 2);
        let r1 = &sheet.rows[0];
        assert_eq!(r1.files, ["cli.yaml", "dir/a.yaml", "dir/sub/b.yaml"]);
        assert_eq!(r1.job_name.as_deref(), Some("j1"));
        assert_eq!(r1.missable, ["x*", "y"]);
        assert_eq!(r1.values, [("A".to_string(), "1".to_string())]);
        let r2 = &sheet.rows[1];
        assert_eq!(r2.files, ["cli.yaml", "dir/a.yaml", "/abs/c.yaml"]);
        assert_eq!(r2.values, [("B".to_string(), "q,r".to_string())]);
        assert!(
            read("file,A\nx,1\n", ".", &[])
                .unwrap_err()
                .contains("sflow_config_file")
        );
        assert!(read("sflow_config_file,A\n", ".", &[]).is_err());
        assert!(
            read("sflow_config_file,A\nx,1,2\n", ".", &[])
                .unwrap_err()
                .contains("row 1")
        );
    }

    #[test]
    fn script_names_sort_by_row() {
        assert_eq!(script_name(3, 9, "bench run/1"), "03-bench_run_1.sh");
        assert_eq!(script_name(12, 120, "x"), "012-x.sh");
        assert_eq!(script_name(1, 1, ".."), "01.sh");
    }
}
