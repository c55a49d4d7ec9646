//! Artifacts: `fs://`/`file://` paths (relative ones under the workspace), an env var per
//! artifact, `${{ artifacts.X.path }}`, `--artifact` overrides, and `file://` artifacts
//! with inline content written by the script at job start, byte for byte.

use crate::common::job::{self, Launch};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// Quotes, `$`, backticks, backslashes, a line equal to the heredoc delimiter, `@@`,
/// a tab, and no final newline.
const CONTENT: &str = "#!/bin/sh\necho \"it's $HOME `id` \\\\ \\n\"\nSFLOW_FILE\nSFLOW_FILE_2\n\tindented ${x} $(y) @@ end";

#[test]
fn inline_content_is_written_exactly_and_paths_resolve() {
    let yaml = format!(
        r#"version: "0.1"
variables:
  WHO: {{value: world}}
artifacts:
  - name: RAW
    uri: file://configs/raw.txt
    content: {content}
  - name: TEMPLATED
    uri: file://templated.yaml
    content: |
      greeting: hello ${{{{ variables.WHO }}}}
      head: ${{{{ backends.cluster.nodes[0].name }}}}
  - name: MODEL
    uri: fs://models/tiny
  - name: ABSOLUTE
    uri: fs:///opt/models/big
backends:
  - {{name: cluster, type: slurm, nodes: 1, gpus_per_node: 0}}
workflow:
  name: artifacts
  tasks:
    - name: check
      script:
        - cmp "$RAW" "$SFLOW_WORKFLOW_OUTPUT_DIR/configs/raw.txt"
        - cp "${{{{ artifacts.RAW.path }}}}" "$SFLOW_TASK_OUTPUT_DIR/copy.txt"
        - cat "$TEMPLATED" > "$SFLOW_TASK_OUTPUT_DIR/templated.txt"
        - echo "$MODEL ${{{{ artifacts.MODEL.path }}}} $ABSOLUTE" > "$SFLOW_TASK_OUTPUT_DIR/paths.txt"
"#,
        content = serde_json::to_string(CONTENT).unwrap()
    );
    let job = job::compile(&yaml, &[]);
    let out = job.run(Launch::Slurm(1), LIMIT);
    out.assert_code(0);
    assert_eq!(out.file("configs/raw.txt"), CONTENT);
    assert_eq!(out.file("check/copy.txt"), CONTENT);
    assert_eq!(
        out.file("check/templated.txt"),
        "greeting: hello world\nhead: node0\n"
    );
    let ws = job.dir.path().display().to_string();
    assert_eq!(
        out.file("check/paths.txt"),
        format!("{ws}/models/tiny {ws}/models/tiny /opt/models/big\n")
    );
}

#[test]
fn artifact_overrides_replace_the_uri() {
    let yaml = r#"version: "0.1"
artifacts:
  - name: MODEL
    uri: fs:///models/default
workflow:
  name: overrides
  tasks:
    - name: show
      script: ['echo "$MODEL"']
"#;
    let out =
        job::compile(yaml, &["--artifact", "MODEL=fs:///models/other"]).run(Launch::Local, LIMIT);
    out.assert_code(0);
    assert_eq!(out.lines("show"), ["/models/other"]);
}
