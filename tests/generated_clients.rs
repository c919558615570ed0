//! Clients generated from the served `/api/schema/` by the standard tools work (issue #12):
//! `openapi-spec-validator` accepts the document, `openapi-python-client` generates a package
//! whose every module imports and that runs a customer's and a staff member's day
//! (`tests/clients/flow.py`), and `openapi-typescript` types compile a usage file under
//! `tsc --strict` (`tests/clients/usage.ts`).
//!
//! The tools are pinned and installed by `tests/clients/install.sh` into `target/clients/`
//! (`.ci/run` calls it). Without them the test says "skipped" and passes, except under
//! `CI=true`, where a missing tool is a failure.

// Part of the shared harness is for the other test binaries (see `tests/support/mod.rs`).
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::child::{ChildServer, bankd_command};

const STAFF_USERNAME: &str = "flow-staff";
const STAFF_PASSWORD: &str = "flow-staff-password-123";

/// The installed generators, or `None` when any is missing.
struct Tools {
    python: PathBuf,
    spec_validator: PathBuf,
    python_generator: PathBuf,
    typescript_generator: PathBuf,
    tsc: PathBuf,
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tools() -> Option<Tools> {
    let root = repository().join("target/clients");
    let tools = Tools {
        python: root.join("venv/bin/python"),
        spec_validator: root.join("venv/bin/openapi-spec-validator"),
        python_generator: root.join("venv/bin/openapi-python-client"),
        typescript_generator: root.join("npm/node_modules/.bin/openapi-typescript"),
        tsc: root.join("npm/node_modules/.bin/tsc"),
    };
    let all = [
        &tools.python,
        &tools.spec_validator,
        &tools.python_generator,
        &tools.typescript_generator,
        &tools.tsc,
    ];
    all.iter().all(|tool| tool.exists()).then_some(tools)
}

/// Runs `command`, panics with its output unless it succeeds, and returns stdout + stderr.
fn run(mut command: Command, what: &str) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} failed:\n{text}");
    text
}

fn create_superuser(dir: &Path, database: &Path) {
    let mut child = bankd_command(dir)
        .args(["createsuperuser", "--username", STAFF_USERNAME])
        .args([
            "--email",
            "staff@example.com",
            "--password-stdin",
            "--database",
        ])
        .arg(database)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bankd starts");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{STAFF_PASSWORD}").expect("write the password");
    drop(stdin);
    let output = child.wait_with_output().expect("bankd finishes");
    assert!(output.status.success(), "createsuperuser: {output:?}");
}

#[tokio::test]
async fn clients_generated_from_the_served_schema_import_and_run_a_flow() {
    let Some(tools) = tools() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the client generators are missing under CI: run tests/clients/install.sh"
        );
        eprintln!("skipped: client generators not installed (run tests/clients/install.sh)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let database = dir.path().join("bank.db");
    create_superuser(dir.path(), &database);
    // The server's log goes to a file, where it does not drown the test's own output.
    let log = std::fs::File::create(dir.path().join("server.log")).expect("server.log");
    let mut command = bankd_command(dir.path());
    command.stderr(log);
    let server = ChildServer::start(command, &database);
    let document: Value = reqwest::get(format!("{}/api/schema/", server.address))
        .await
        .expect("GET /api/schema/")
        .json()
        .await
        .expect("the schema is JSON");
    let schema_path = dir.path().join("openapi.json");
    std::fs::write(&schema_path, document.to_string()).expect("write openapi.json");

    let mut validate = Command::new(&tools.spec_validator);
    validate.arg(&schema_path);
    run(validate, "openapi-spec-validator");

    generate_python_client(&tools, dir.path(), &schema_path, &document);
    let mut flow = Command::new(&tools.python);
    flow.arg(repository().join("tests/clients/flow.py"))
        .args([
            &server.address,
            "bankd_client",
            STAFF_USERNAME,
            STAFF_PASSWORD,
        ])
        .env("PYTHONPATH", dir.path());
    let output = run(flow, "the flow through the generated Python client");
    assert!(output.contains("flow passed"), "{output}");

    check_typescript_types(&tools, dir.path(), &schema_path);
}

/// Generates `bankd_client` in `dir` and checks it has a module folder per tag.
fn generate_python_client(tools: &Tools, dir: &Path, schema_path: &Path, document: &Value) {
    // No post hooks: they would format with ruff, which is not installed (and not needed).
    let config = dir.join("generator.yaml");
    std::fs::write(&config, "post_hooks: []\n").expect("write the generator config");
    let mut generate = Command::new(&tools.python_generator);
    generate
        .args(["generate", "--meta", "none", "--path"])
        .arg(schema_path)
        .arg("--output-path")
        .arg(dir.join("bankd_client"))
        .arg("--config")
        .arg(&config);
    let output = run(generate, "openapi-python-client");
    // A warning means the generator skipped part of the document (an endpoint, a model).
    assert!(!output.contains("Warning"), "{output}");
    let mut folders: Vec<String> = std::fs::read_dir(dir.join("bankd_client/api"))
        .expect("the generated api/ folder")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.starts_with("__"))
        .collect();
    folders.sort();
    let mut tags: Vec<String> = document["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|tag| tag["name"].as_str().map(str::to_owned))
        .collect();
    tags.sort();
    assert_eq!(folders, tags, "one api/ module per tag, and no `default`");
}

/// Generates TypeScript types and compiles `tests/clients/usage.ts` against them.
fn check_typescript_types(tools: &Tools, dir: &Path, schema_path: &Path) {
    let types_dir = dir.join("typescript");
    std::fs::create_dir_all(&types_dir).expect("typescript dir");
    let mut generate = Command::new(&tools.typescript_generator);
    generate
        .arg(schema_path)
        .arg("-o")
        .arg(types_dir.join("bankd.d.ts"));
    run(generate, "openapi-typescript");
    std::fs::copy(
        repository().join("tests/clients/usage.ts"),
        types_dir.join("usage.ts"),
    )
    .expect("copy usage.ts");
    let mut compile = Command::new(&tools.tsc);
    compile
        .current_dir(&types_dir)
        .args(["--noEmit", "--strict", "--target", "es2022"])
        .args(["--module", "esnext", "--moduleResolution", "bundler"])
        .arg("usage.ts");
    run(compile, "tsc on tests/clients/usage.ts");
}
