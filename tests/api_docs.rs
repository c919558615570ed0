//! `docs/API.md` is generated here, from a scripted tour of the real application, so that every
//! example in it is a request that was actually sent and the answer that actually came back.
//!
//! `api_docs/tour.rs` starts the app in-process on port 0 with a fresh database (and a second
//! one with a tight throttle for the `429` example), walks every route in
//! `http::schema::OPERATIONS`, and records each exchange under a label (`api_docs/recorder.rs`).
//! `api_docs/render.rs` then fills `api_docs/template.md`, whose `{{example:<label>}}` lines
//! become curl commands and their answers. Volatile values (tokens, JWTs, times, account and
//! card numbers, request ids, hashes, the port) become stable placeholders
//! (`api_docs/normalise.rs`), so a second run renders the same bytes.
//!
//! Without `BANKD_UPDATE_DOCS=1` the test fails when `docs/API.md` differs from what the tour
//! renders; with it, the test rewrites the file. The other tests here keep the hand-written
//! documents honest: every error code is in the reference, every test `SECURITY.md` cites
//! exists, `docs/DEPLOYMENT.md` lists every `BANKD_*` variable, and `THIRD-PARTY-NOTICES` names
//! every crate compiled into the binary.

#[path = "api_docs/normalise.rs"]
mod normalise;
#[path = "api_docs/recorder.rs"]
mod recorder;
#[path = "api_docs/render.rs"]
mod render;
#[path = "api_docs/tour.rs"]
mod tour;

// Part of the shared harness is for the other test binaries (see `tests/support/mod.rs`).
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use bankd::http::schema::OPERATIONS;
use reqwest::Method;

use recorder::{Example, Tour};

/// The password of every user the tour makes; it passes Django's validators.
const PASSWORD: &str = "a-strong-password123";
const UPDATE_VARIABLE: &str = "BANKD_UPDATE_DOCS";

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Which documented operation a request path is, if any.
fn operation_of(method: &Method, path: &str) -> Option<(&'static str, &'static str)> {
    let path = path.split('?').next().unwrap_or_default();
    let path = format!("{}/", path.trim_end_matches('/'));
    let segments: Vec<&str> = path.split('/').collect();
    OPERATIONS
        .iter()
        .find(|operation| {
            let template: Vec<&str> = operation.path.split('/').collect();
            operation.method == method.as_str()
                && template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| {
                    t == s
                        || (*t == "{id}" && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                })
        })
        .map(|operation| (operation.method, operation.path))
        .or_else(|| {
            // The service routes are documented without a trailing slash.
            OPERATIONS
                .iter()
                .find(|o| o.method == method.as_str() && format!("{}/", o.path) == path)
                .map(|o| (o.method, o.path))
        })
}

/// Every operation has at least one example.
fn assert_every_operation_is_shown(tour: &Tour) {
    let mut shown = BTreeSet::new();
    for example in tour.examples.values() {
        if let Example::Http { request, .. } = example
            && let Some(operation) = operation_of(&request.method, &request.path)
        {
            shown.insert(operation);
        }
    }
    let missing: Vec<String> = OPERATIONS
        .iter()
        .filter(|o| !shown.contains(&(o.method, o.path)))
        .map(|o| format!("{} {}", o.method, o.path))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/API.md has no example of: {missing:?} (add them to the tour in tests/api_docs.rs)"
    );
}

/// Leftover randomness would make the file differ on every run: catch it with a clear message.
fn assert_no_volatile_values(markdown: &str) {
    for (number, line) in markdown.lines().enumerate() {
        let hex_run = line
            .split(|c: char| !c.is_ascii_hexdigit())
            .any(|word| word.len() >= 32);
        assert!(
            !hex_run && !line.contains("eyJ"),
            "line {} of docs/API.md holds a token or hash that is not normalised: {line}",
            number + 1
        );
    }
}

fn first_difference(expected: &str, actual: &str) -> String {
    for (number, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return format!(
                "first difference at line {}:\n  in docs/API.md: {e}\n  from the tour:  {a}",
                number + 1
            );
        }
    }
    format!(
        "docs/API.md has {} lines, the tour renders {}",
        expected.lines().count(),
        actual.lines().count()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn docs_api_md_is_what_a_tour_of_the_real_api_answers() {
    let (tour, _servers) = tour::run().await;
    assert_every_operation_is_shown(&tour);
    let markdown = render::render(&tour);
    assert_no_volatile_values(&markdown);
    let path = repository().join("docs/API.md");
    if std::env::var(UPDATE_VARIABLE).is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("docs/")).expect("create docs/");
        std::fs::write(&path, &markdown).expect("write docs/API.md");
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == markdown,
        "docs/API.md is out of date with the API ({}).\n\
         Regenerate it with `{UPDATE_VARIABLE}=1 cargo test --test api_docs` and review the diff.",
        first_difference(&current, &markdown)
    );
}

/// Every `ErrorCode` variant (as its snake_case code) appears in the reference's code table.
#[test]
fn every_error_code_is_in_the_reference() {
    let source = std::fs::read_to_string(repository().join("src/error.rs")).expect("src/error.rs");
    let template =
        std::fs::read_to_string(repository().join("tests/api_docs/template.md")).expect("template");
    let body = source
        .split("pub enum ErrorCode {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("the ErrorCode enum");
    let codes: Vec<String> = body
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("//") && !line.is_empty())
        .map(|line| snake_case(line.trim_end_matches(',')))
        .collect();
    assert!(codes.len() > 10, "ErrorCode not found: {codes:?}");
    let missing: Vec<&String> = codes
        .iter()
        .filter(|code| !template.contains(&format!("| `{code}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "error codes missing from the table in tests/api_docs/template.md: {missing:?}"
    );
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (index, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if index > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// Every `BANKD_*` variable and configuration key is in the deployment guide.
#[test]
fn the_deployment_guide_lists_every_configuration_key() {
    let guide = std::fs::read_to_string(repository().join("docs/DEPLOYMENT.md"))
        .expect("docs/DEPLOYMENT.md");
    let missing: Vec<String> = bankd::config::documented_keys()
        .filter(|(name, env)| {
            !guide.contains(&format!("`{env}`")) || !guide.contains(&format!("`{name}`"))
        })
        .map(|(name, env)| format!("{name} / {env}"))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/DEPLOYMENT.md does not document: {missing:?}"
    );
}

/// Every test `SECURITY.md` cites as proof (`tests/<file>.rs` … `<function>`) exists in that file.
#[test]
fn every_test_security_md_cites_exists() {
    let security = std::fs::read_to_string(repository().join("SECURITY.md")).expect("SECURITY.md");
    let owasp_rows: Vec<&str> = security
        .lines()
        .filter(|l| l.starts_with("| API"))
        .collect();
    assert_eq!(
        owasp_rows.len(),
        10,
        "SECURITY.md's OWASP table has API1 to API10"
    );
    for row in owasp_rows {
        assert!(
            !citations(row).is_empty(),
            "an OWASP row cites no test: {row}"
        );
    }
    let cited = citations(&security);
    for (file, function) in &cited {
        let source = std::fs::read_to_string(repository().join(file))
            .unwrap_or_else(|_| panic!("SECURITY.md cites {file}, which does not exist"));
        assert!(
            source.contains(&format!("fn {function}(")),
            "SECURITY.md cites {file} `{function}`, which is not a function there"
        );
    }
    assert!(
        cited.len() >= 20,
        "SECURITY.md cites only {} tests",
        cited.len()
    );
}

/// `tests/x.rs::name` citations in a text (the form SECURITY.md uses).
fn citations(text: &str) -> Vec<(String, String)> {
    text.split('`')
        .filter_map(|code| code.split_once("::"))
        .filter(|(file, _)| {
            file.ends_with(".rs") && (file.starts_with("tests/") || file.starts_with("src/"))
        })
        .map(|(file, function)| (file.to_owned(), function.to_owned()))
        .collect()
}

/// OWASP API7 (server-side request forgery): bankd never fetches a URL, because nothing in it
/// can. No HTTP client is among the dependencies compiled into the binary.
#[test]
fn no_http_client_is_compiled_into_the_server() {
    let manifest = std::fs::read_to_string(repository().join("Cargo.toml")).expect("Cargo.toml");
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("a [dependencies] table");
    let clients = [
        "reqwest",
        "ureq",
        "isahc",
        "curl",
        "surf",
        "attohttpc",
        "awc",
    ];
    for line in dependencies.lines() {
        let name = line.split(['=', ' ']).next().unwrap_or_default();
        assert!(
            !clients.contains(&name),
            "{name} is an HTTP client: review SECURITY.md (API7, SSRF) before adding it"
        );
    }
}

/// `THIRD-PARTY-NOTICES` (generated by cargo-about, see `about.toml`) names every crate compiled
/// into the binary at the version `Cargo.lock` pins, and carries the notice of the bundled
/// common-password list. Regenerate with `cargo about generate about.hbs -o THIRD-PARTY-NOTICES`.
#[test]
fn third_party_notices_name_every_crate_compiled_into_the_binary() {
    let notices = std::fs::read_to_string(repository().join("THIRD-PARTY-NOTICES"))
        .expect("THIRD-PARTY-NOTICES");
    let django = std::fs::read_to_string(repository().join("licenses/django-LICENSE.txt"))
        .expect("licenses/django-LICENSE.txt");
    assert!(
        notices.contains(django.trim()),
        "THIRD-PARTY-NOTICES lacks the Django licence of src/domain/common-passwords.txt"
    );
    assert!(
        notices.contains("SQLite") && notices.contains("public domain"),
        "THIRD-PARTY-NOTICES lacks the note on the bundled SQLite"
    );
    let missing: Vec<String> = shipped_crates()
        .into_iter()
        .filter(|(name, _)| name != "bankd")
        .filter(|(name, version)| !notices.contains(&format!("{name} {version}")))
        .map(|(name, version)| format!("{name} {version}"))
        .collect();
    assert!(
        missing.is_empty(),
        "THIRD-PARTY-NOTICES is out of date; missing {missing:?}.\n\
         Regenerate it: cargo about generate about.hbs -o THIRD-PARTY-NOTICES"
    );
}

/// Every package compiled for the binary: bankd's normal and build dependencies on the target it
/// is built for, with the features cargo actually enables for them (`cargo tree`, unlike
/// `cargo metadata`, keeps features that only dev-dependencies turn on out of the graph).
fn shipped_crates() -> BTreeSet<(String, String)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .current_dir(repository())
        .args(["tree", "--edges", "normal,build"])
        .args(["--target", "x86_64-unknown-linux-gnu"])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let version = words.next()?.strip_prefix('v')?;
            Some((name.to_owned(), version.to_owned()))
        })
        .collect()
}
