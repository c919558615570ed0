//! Rendering: each example as a curl command and its answer, the route and filter tables from
//! `OPERATIONS`, and the template's directives filled in.

use std::collections::BTreeSet;

use bankd::http::schema::{Auth, OPERATIONS};
use reqwest::Method;
use serde_json::{Value, json};

use crate::normalise::{Normaliser, SHOWN_HOST, scrub};
use crate::recorder::{Body, Display, Example, Request, Response, Tour};

/// Response headers worth showing when they are present.
const SHOWN_HEADERS: &[&str] = &[
    "allow",
    "content-disposition",
    "content-security-policy",
    "content-type",
    "idempotent-replayed",
    "retry-after",
    "www-authenticate",
];

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn render_curl(request: &Request, n: &Normaliser) -> String {
    let mut lines = Vec::new();
    let mut first = String::from("curl -i");
    let implicit_post = request.method == Method::POST && !matches!(request.body, Body::None);
    if request.method != Method::GET && !implicit_post {
        first.push_str(&format!(" -X {}", request.method));
    }
    let url = n.text(&format!("http://{SHOWN_HOST}{}", request.path));
    if url.contains(['?', '&']) {
        first.push_str(&format!(" {}", shell_quote(&url)));
    } else {
        first.push_str(&format!(" {url}"));
    }
    lines.push(first);
    for (name, value) in &request.headers {
        let shown = if value.len() > 60 && name == "Idempotency-Key" {
            format!("{name}: <256 characters>")
        } else {
            n.text(&format!("{name}: {value}"))
        };
        lines.push(format!("-H {}", shell_quote(&shown)));
    }
    match &request.body {
        Body::None => {}
        Body::Json(text) => {
            lines.push("-H 'Content-Type: application/json'".to_owned());
            lines.push(format!("-d {}", shell_quote(&n.text(text))));
        }
        Body::Form(pairs) => {
            let pairs: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("-d {}", n.text(&format!("{k}={v}"))))
                .collect();
            lines.push(pairs.join(" "));
        }
        Body::Raw { content_type, text } => {
            lines.push(format!(
                "-H {}",
                shell_quote(&format!("Content-Type: {content_type}"))
            ));
            lines.push(format!("-d {}", shell_quote(text)));
        }
        Body::Large { file, .. } => {
            lines.push("-H 'Content-Type: application/json'".to_owned());
            lines.push(format!("--data-binary @{file}"));
        }
    }
    lines.join(" \\\n  ")
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

fn render_response(request: &Request, response: &Response, n: &Normaliser) -> String {
    let mut out = format!("HTTP/1.1 {} {}\n", response.status, reason(response.status));
    let mut headers: Vec<(String, String)> = response
        .headers
        .iter()
        .filter(|(name, _)| match request.display {
            Display::AllHeaders => !matches!(name.as_str(), "date" | "content-length"),
            _ => SHOWN_HEADERS.contains(&name.as_str()),
        })
        .map(|(name, value)| {
            let value = value.to_str().unwrap_or_default();
            let value = if name.as_str() == "retry-after" && response.status == 429 {
                "60"
            } else {
                value
            };
            (header_case(name.as_str()), n.text(value))
        })
        .collect();
    headers.sort();
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\n"));
    }
    let body = match request.display {
        Display::NoBody => String::new(),
        Display::SchemaExcerpt => {
            let document = &response.json;
            let paths: Vec<Value> = document["paths"]
                .as_object()
                .map(|paths| paths.keys().take(4).map(|k| json!(k)).collect())
                .unwrap_or_default();
            let excerpt = json!({
                "openapi": document["openapi"],
                "info": { "title": document["info"]["title"], "version": "…" },
                "paths": { "…": format!("{} paths, starting with {}", document["paths"].as_object().map_or(0, |p| p.len()), Value::Array(paths)) },
                "components": { "…": "securitySchemes (tokenAuth, bearerAuth) and schemas" },
            });
            serde_json::to_string_pretty(&excerpt).expect("JSON")
        }
        Display::Metrics => response
            .text
            .lines()
            .map(|line| match line.rsplit_once(' ') {
                Some((series, _)) if !line.starts_with('#') => format!("{series} <n>"),
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Display::Full | Display::AllHeaders if !response.json.is_null() => {
            let mut json = response.json.clone();
            scrub(&mut json);
            n.text(&serde_json::to_string_pretty(&json).expect("JSON"))
        }
        Display::Full | Display::AllHeaders => n.text(response.text.trim_end()),
    };
    if !body.is_empty() {
        out.push('\n');
        out.push_str(&body);
        out.push('\n');
    }
    out
}

/// `content-type` → `Content-Type`; `www-authenticate` → `WWW-Authenticate`.
fn header_case(name: &str) -> String {
    name.split('-')
        .map(|word| match word {
            "www" => "WWW".to_owned(),
            "id" => "Id".to_owned(),
            _ => {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn render_example(example: &Example, n: &Normaliser) -> String {
    match example {
        Example::Http { request, response } => {
            let mut out = String::from("```sh\n");
            out.push_str(&render_curl(request, n));
            if let Body::Large { bytes, file } = &request.body {
                out.push_str(&format!("\n# {file} holds a JSON object of {bytes} bytes"));
            }
            out.push_str("\n```\n\n```http\n");
            out.push_str(&render_response(request, response, n));
            out.push_str("```\n");
            out
        }
        Example::Command { shown, output } => {
            format!(
                "```console\n$ {shown}\n{}\n```\n",
                n.text(output.trim_end())
            )
        }
    }
}

fn auth_name(auth: Auth) -> &'static str {
    match auth {
        Auth::Public => "public",
        Auth::User => "user",
        Auth::Staff => "staff",
    }
}

/// The route index, from the same table as `/api/schema/`.
fn render_routes() -> String {
    let mut out = String::from(
        "| method | path | auth | request body | success | errors beyond the common ones |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    for operation in OPERATIONS {
        let (status, success_body) = operation.success;
        let success = match success_body {
            Some(schema) => format!("{status} `{schema}`"),
            None => status.to_string(),
        };
        let errors: Vec<String> = operation.errors.iter().map(u16::to_string).collect();
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} | {} |\n",
            operation.method,
            operation.path,
            auth_name(operation.auth),
            operation.body.map_or("—".to_owned(), |b| format!("`{b}`")),
            success,
            if errors.is_empty() {
                "—".to_owned()
            } else {
                errors.join(", ")
            },
        ));
    }
    out
}

/// The query parameters of every list, from the same table as `/api/schema/`.
fn render_query_parameters() -> String {
    let mut out = String::from("| route | parameter | meaning |\n| --- | --- | --- |\n");
    for operation in OPERATIONS {
        let filters = operation
            .query
            .iter()
            .filter(|(name, _)| !matches!(*name, "page" | "page_size"));
        for (name, meaning) in filters {
            out.push_str(&format!(
                "| `{} {}` | `{name}` | {} |\n",
                operation.method,
                operation.path,
                meaning.replace('|', "\\|")
            ));
        }
    }
    out
}

/// Renders the template; panics on a label that was not recorded or a recording the template
/// does not show.
pub fn render(tour: &Tour) -> String {
    let template = std::fs::read_to_string(crate::repository().join("tests/api_docs/template.md"))
        .expect("tests/api_docs/template.md");
    let normaliser = Normaliser::new(&tour.aliases);
    let mut used = BTreeSet::new();
    let mut out = String::new();
    for line in template.lines() {
        let directive = line.trim();
        if let Some(label) = directive
            .strip_prefix("{{example:")
            .and_then(|rest| rest.strip_suffix("}}"))
        {
            let example = tour.examples.get(label).unwrap_or_else(|| {
                panic!("the template shows {label}, which the tour did not record")
            });
            assert!(used.insert(label.to_owned()), "{label} is shown twice");
            out.push_str(&render_example(example, &normaliser));
        } else if directive == "{{routes}}" {
            out.push_str(&render_routes());
        } else if directive == "{{query-parameters}}" {
            out.push_str(&render_query_parameters());
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    let unused: Vec<&String> = tour.order.iter().filter(|l| !used.contains(*l)).collect();
    assert!(
        unused.is_empty(),
        "recorded but not shown by the template: {unused:?}"
    );
    out
}
