//! `sflow schema`: a JSON Schema (draft 2020-12) of the workflow format, for editors
//! (`# yaml-language-server: $schema=...`) and other tools. Input: nothing. Output: the
//! schema as pretty JSON. Guarantee: it accepts every key `syntax` accepts (plus the keys
//! it accepts with a "not supported yet" warning), in the list or map form of each named
//! collection, with a `${{ }}` expression allowed wherever the field is evaluated; it
//! rejects unknown keys where `syntax` does. It checks shape, not meaning: names,
//! dependencies and values are checked by `sflow check`.

use crate::syntax::{OperatorKind, operator_fields};
use serde_json::{Map, Value as Json, json};

/// The schema as JSON text.
pub fn text() -> String {
    let mut out = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    out.push('\n');
    out
}

fn r(name: &str) -> Json {
    json!({ "$ref": format!("#/$defs/{name}") })
}

/// An object with exactly these properties.
fn object(properties: Vec<(&str, Json)>, required: &[&str]) -> Json {
    let mut props = Map::new();
    for (k, v) in properties {
        props.insert(k.to_string(), v);
    }
    let mut o = json!({
        "type": "object",
        "properties": props,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        o["required"] = json!(required);
    }
    o
}

/// A named collection: a list of items with `name`, or a mapping from name to item
/// (`body`, with `name` optional). With `shorthand`, a non-mapping value in the map form
/// means `{value: X}`.
fn collection(item: &str, shorthand: bool) -> Json {
    let mut map_value = r(&format!("{item}_body"));
    if shorthand {
        map_value = json!({ "anyOf": [map_value, { "not": { "type": "object" } }] });
    }
    json!({
        "anyOf": [
            { "type": "array", "items": r(item) },
            { "type": "object", "additionalProperties": map_value },
            { "type": "null" },
        ]
    })
}

/// The item (name required) and body (name optional) of a collection.
fn item_and_body(defs: &mut Map<String, Json>, name: &str, body: Json) {
    let mut item = body.clone();
    let mut required: Vec<Json> = item["required"].as_array().cloned().unwrap_or_default();
    required.insert(0, json!("name"));
    item["required"] = Json::Array(required);
    defs.insert(name.to_string(), item);
    defs.insert(format!("{name}_body"), body);
}

fn described(mut v: Json, text: &str) -> Json {
    v["description"] = json!(text);
    v
}

fn schema() -> Json {
    let mut defs = Map::new();
    let mut def = |name: &str, v: Json| {
        defs.insert(name.to_string(), v);
    };
    def(
        "expression",
        json!({
            "type": "string",
            "pattern": "\\$\\{\\{",
            "description": "A string with a ${{ ... }} expression, evaluated by sflow",
        }),
    );
    def(
        "integer",
        json!({ "anyOf": [
            { "type": "integer" },
            { "type": "string", "pattern": "^\\s*[-+]?[0-9]+\\s*$" },
            r("expression"),
        ]}),
    );
    def(
        "boolean",
        json!({ "anyOf": [{ "type": "boolean" }, r("expression")] }),
    );
    def("text", json!({ "type": ["string", "number", "boolean"] }));
    def(
        "strings",
        json!({ "anyOf": [
            { "type": "array", "items": r("text") },
            r("expression"),
        ]}),
    );
    def(
        "names",
        json!({ "anyOf": [
            { "type": "array", "items": { "type": ["string", "integer"] } },
            { "type": "string" },
        ]}),
    );
    def(
        "duration",
        json!({ "type": ["string", "integer", "number"],
                "description": "Seconds, or a duration such as 90m, 2h, 1-00:00:00" }),
    );
    def(
        "release_after",
        json!({ "anyOf": [
            { "enum": ["workflow_completion", "task_ready", "task_completion"] },
            r("expression"),
        ]}),
    );
    def(
        "ignored",
        json!({ "description": "Accepted for compatibility and ignored, with a warning" }),
    );

    let mut defs_items = Map::new();
    item_and_body(
        &mut defs_items,
        "variable",
        object(
            vec![
                (
                    "name",
                    json!({ "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" }),
                ),
                (
                    "value",
                    json!({ "description": "The value; may hold ${{ }} expressions" }),
                ),
                ("description", json!({ "type": ["string", "null"] })),
                (
                    "domain",
                    json!({
                        "type": ["array", "null"],
                        "description": "The values a task sweeps (replicas.variables); taken literally",
                    }),
                ),
                (
                    "type",
                    json!({ "enum": ["string", "str", "integer", "int", "float", "boolean", "bool", "list", "dict"] }),
                ),
            ],
            &["value"],
        ),
    );
    item_and_body(
        &mut defs_items,
        "artifact",
        object(
            vec![
                (
                    "name",
                    json!({ "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" }),
                ),
                ("description", json!({ "type": ["string", "null"] })),
                (
                    "uri",
                    json!({
                        "type": "string",
                        "description": "fs://PATH, file://PATH (relative to the workspace), hf://, http(s)://, ...",
                    }),
                ),
                (
                    "content",
                    json!({
                        "type": ["string", "null"],
                        "description": "Inline content of a file:// artifact",
                    }),
                ),
            ],
            &["uri"],
        ),
    );
    let name = json!({ "type": ["string", "integer"] });
    let backend_common = || {
        vec![
            ("name", name.clone()),
            ("default", json!({ "type": ["boolean", "null"] })),
            ("nodes", r("integer")),
            ("gpus_per_node", r("integer")),
            ("offload_task_logs", r("boolean")),
            ("include_nodes", r("strings")),
            ("exclude_nodes", r("strings")),
        ]
    };
    let mut slurm = backend_common();
    slurm.push(("type", json!({ "const": "slurm" })));
    slurm.push(("account", r("text")));
    slurm.push(("partition", r("text")));
    slurm.push(("time", r("duration")));
    slurm.push(("extra_args", r("strings")));
    slurm.push(("job_name", r("text")));
    let mut local = backend_common();
    local.push(("type", json!({ "const": "local" })));
    let slurm = object(slurm, &["type"]);
    let local = object(local, &["type"]);
    item_and_body(
        &mut defs_items,
        "backend",
        json!({ "oneOf": [slurm, local], "required": ["type"] }),
    );

    let kinds = [
        (OperatorKind::Srun, "srun"),
        (OperatorKind::Bash, "bash"),
        (OperatorKind::Python, "python"),
        (OperatorKind::Ssh, "ssh"),
    ];
    let operator_variants: Vec<Json> = kinds
        .iter()
        .map(|(kind, type_name)| {
            let mut props = vec![
                ("name", name.clone()),
                ("type", json!({ "const": type_name })),
            ];
            for field in operator_fields(*kind) {
                props.push((field, operator_field(field)));
            }
            object(props, &["type"])
        })
        .collect();
    item_and_body(
        &mut defs_items,
        "operator",
        json!({ "oneOf": operator_variants, "required": ["type"] }),
    );
    let every_operator_field: Map<String, Json> = kinds
        .iter()
        .flat_map(|(kind, _)| operator_fields(*kind).iter())
        .map(|f| (f.to_string(), operator_field(f)))
        .collect();
    let mut override_props = every_operator_field;
    override_props.insert("name".into(), json!({ "type": "string" }));
    def(
        "operator_ref",
        json!({ "anyOf": [
            { "type": "string" },
            {
                "type": "object",
                "properties": override_props,
                "required": ["name"],
                "additionalProperties": false,
                "description": "An operator by name, with field overrides (extra_args are appended)",
            },
        ]}),
    );

    def(
        "probe",
        object(
            vec![
                (
                    "tcp_port",
                    object(
                        vec![
                            ("port", r("integer")),
                            ("host", r("text")),
                            (
                                "on_node",
                                json!({ "anyOf": [{ "enum": ["first", "each"] }, r("expression")] }),
                            ),
                        ],
                        &["port"],
                    ),
                ),
                ("http_get", http_probe()),
                ("http_post", http_probe()),
                (
                    "log_watch",
                    object(
                        vec![
                            ("regex_pattern", json!({ "type": "string" })),
                            ("match_pattern", json!({ "type": "string" })),
                            (
                                "logger",
                                json!({ "type": "string", "description": "The task whose log is watched (default: this task)" }),
                            ),
                            ("match_count", r("integer")),
                        ],
                        &[],
                    ),
                ),
                ("delay", r("duration")),
                ("timeout", r("duration")),
                ("each_check_timeout", r("duration")),
                ("interval", r("duration")),
                ("success_threshold", r("integer")),
                ("failure_threshold", r("integer")),
            ],
            &[],
        ),
    );
    // Exactly one kind.
    if let Some(probe) = defs.get_mut("probe") {
        probe["oneOf"] = json!([
            { "required": ["tcp_port"] },
            { "required": ["http_get"] },
            { "required": ["http_post"] },
            { "required": ["log_watch"] },
        ]);
    }
    let mut def = |name: &str, v: Json| {
        defs.insert(name.to_string(), v);
    };
    def(
        "probes",
        json!({ "anyOf": [
            r("probe"),
            { "type": "array", "items": r("probe"), "minItems": 1 },
        ]}),
    );
    def(
        "resources",
        object(
            vec![
                (
                    "nodes",
                    object(
                        vec![
                            (
                                "indices",
                                json!({ "anyOf": [{ "type": "array", "items": r("integer") }, r("expression")] }),
                            ),
                            ("count", r("integer")),
                            (
                                "exclude",
                                json!({ "anyOf": [{ "type": "array", "items": r("integer") }, r("expression")] }),
                            ),
                            ("release_after", r("release_after")),
                        ],
                        &[],
                    ),
                ),
                (
                    "gpus",
                    json!({
                        "allOf": [object(
                            vec![
                                ("count", r("integer")),
                                ("indices", json!({ "anyOf": [{ "type": "array", "items": r("integer") }, r("expression")] })),
                                ("release_after", r("release_after")),
                            ],
                            &[],
                        )],
                        "anyOf": [{ "required": ["count"] }, { "required": ["indices"] }],
                    }),
                ),
            ],
            &[],
        ),
    );
    let script_line = json!({ "anyOf": [
        { "type": ["string", "number", "boolean"] },
        { "type": "object", "minProperties": 1, "maxProperties": 1,
          "description": "`- echo a: b` is read as a one-key mapping; it means the line" },
    ]});
    let task_body = object(
        vec![
            (
                "name",
                json!({ "type": ["string", "integer"], "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$" }),
            ),
            (
                "script",
                json!({ "type": "array", "items": script_line, "minItems": 1 }),
            ),
            ("operator", r("operator_ref")),
            ("backend", json!({ "type": "string" })),
            ("depends_on", r("names")),
            ("required_by", r("names")),
            ("resources", r("resources")),
            (
                "ports",
                json!({ "type": ["array", "null"], "items": object(
                    vec![("port", r("integer")), ("name", json!({ "type": "string" }))],
                    &["port"],
                )}),
            ),
            (
                "replicas",
                object(
                    vec![
                        ("count", r("integer")),
                        (
                            "policy",
                            json!({ "anyOf": [{ "enum": ["parallel", "sequential"] }, r("expression")] }),
                        ),
                        ("variables", r("names")),
                    ],
                    &[],
                ),
            ),
            (
                "retries",
                object(
                    vec![
                        ("count", r("integer")),
                        ("interval", r("duration")),
                        ("backoff", r("integer")),
                    ],
                    &["count", "interval"],
                ),
            ),
            (
                "probes",
                object(
                    vec![("readiness", r("probes")), ("failure", r("probes"))],
                    &[],
                ),
            ),
            ("timeout", r("duration")),
            ("fail_fast", json!({ "type": ["boolean", "null"] })),
            ("variables", collection("variable", true)),
            ("uploads", r("ignored")),
            ("monitor", r("ignored")),
            (
                "outputs",
                json!({ "type": "array", "items": object(
                    vec![
                        ("pattern", json!({ "type": "string", "description": "parse style, full line: `TTFT: {ttft:f} ms`" })),
                        ("source", json!({ "type": "string" })),
                        ("metrics", json!({})),
                    ],
                    &["pattern"],
                )}),
            ),
            ("result", result()),
        ],
        &["script"],
    );
    item_and_body(&mut defs_items, "task", task_body);
    defs.extend(defs_items);

    let workflow = object(
        vec![
            (
                "name",
                json!({ "type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$" }),
            ),
            ("timeout", r("duration")),
            ("variables", collection("variable", true)),
            (
                "tasks",
                json!({ "anyOf": [
                    { "type": "array", "items": r("task"), "minItems": 1 },
                    { "type": "object", "additionalProperties": r("task_body"), "minProperties": 1 },
                ]}),
            ),
            ("upload_all", r("ignored")),
            ("monitor", r("ignored")),
        ],
        &["name", "tasks"],
    );
    let mut top = object(
        vec![
            (
                "version",
                json!({ "const": "0.1", "description": "Always the string \"0.1\" (quoted)" }),
            ),
            ("variables", collection("variable", true)),
            ("artifacts", collection("artifact", false)),
            ("backends", collection("backend", false)),
            ("operators", collection("operator", false)),
            ("storage", r("ignored")),
            ("workflow", workflow),
        ],
        &["version", "workflow"],
    );
    top["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    top["title"] = json!("sflow workflow");
    top["description"] = json!(
        "An sflow workflow: tasks, dependencies, replicas and sweeps, GPU slices, probes (sflow schema)"
    );
    top["$defs"] = Json::Object(defs);
    top
}

/// `result`: rules (`NAME: REGEX` or `{pattern, aggregate}`), `patterns`, `file`, `expect`.
fn result() -> Json {
    let rule = json!({ "anyOf": [
        { "type": "string", "description": "a regex; its first group is the value" },
        object(
            vec![
                ("pattern", json!({ "type": "string" })),
                ("regex", json!({ "type": "string" })),
                ("aggregate", json!({ "enum": ["last", "first", "max", "min", "sum", "mean", "count", "list"] })),
            ],
            &[],
        ),
    ]});
    json!({
        "type": "object",
        "properties": {
            "file": { "type": "string", "description": "the task writes JSON to $SFLOW_TASK_RESULT_FILE" },
            "patterns": { "type": "object", "additionalProperties": rule.clone() },
            "expect": {
                "type": "object",
                "additionalProperties": { "anyOf": [
                    { "type": "string", "pattern": "^\\s*(>=|<=|==|!=|>|<)\\s*-?[0-9.eE+-]+\\s*$" },
                    { "type": "number" },
                ]},
                "description": "gates: `tps: \"> 0\"` fails the task when the value is missing or the comparison is false",
            },
        },
        "additionalProperties": rule,
    })
}

fn http_probe() -> Json {
    object(
        vec![
            ("url", r("text")),
            (
                "headers",
                json!({ "type": ["object", "null"], "additionalProperties": r("text") }),
            ),
            ("body", json!({})),
        ],
        &["url"],
    )
}

/// The shape of one operator field.
fn operator_field(field: &str) -> Json {
    let base = match field {
        "exclusive"
        | "label"
        | "unbuffered"
        | "kill_on_bad_exit"
        | "overlap"
        | "log_to_file"
        | "container_mount_home"
        | "container_writable"
        | "container_remap_root" => r("boolean"),
        "nodes" | "ntasks" | "ntasks_per_node" | "cpus_per_task" | "wait" | "port" => r("integer"),
        "nodelist" | "container_mounts" | "extra_args" => r("strings"),
        _ => json!({ "anyOf": [r("text"), { "type": "null" }] }),
    };
    described(base, &format!("operator field `{field}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_valid_json_with_every_definition_it_refers_to() {
        let schema = schema();
        let text = serde_json::to_string(&schema).unwrap();
        let defs = schema["$defs"].as_object().unwrap();
        for piece in text.split("\"#/$defs/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(defs.contains_key(name), "missing definition {name}");
        }
    }
}
