//! The files in `contrib/`: the systemd units pass `systemd-analyze verify` (where it exists;
//! under `CI=true` it must), and the unit's hardening, the Dockerfile and the proxy examples
//! are linted here, since neither Docker nor nginx nor Caddy runs in CI.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn contrib(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(contrib(path)).unwrap_or_else(|e| panic!("contrib/{path}: {e}"))
}

/// The lines of a config file without comments and blank lines, trimmed.
fn directives(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// systemd

const UNITS: [&str; 3] = [
    "bankd.service",
    "bankd-backup.service",
    "bankd-backup.timer",
];

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let Some(systemd_analyze) = tool("systemd-analyze") else {
        return;
    };
    // The units name /usr/local/bin/bankd, which does not exist here: point them at the binary
    // under test, so that systemd-analyze's check that ExecStart is executable means something.
    let dir = tempfile::tempdir().expect("temporary directory");
    for unit in UNITS {
        let text = read(&format!("systemd/{unit}"))
            .replace("/usr/local/bin/bankd", env!("CARGO_BIN_EXE_bankd"));
        std::fs::write(dir.path().join(unit), text).expect("write the unit");
    }

    let output = Command::new(systemd_analyze)
        .arg("verify")
        .args(UNITS)
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze runs");

    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Anything it says is a finding (an unknown key is only a warning, but still a mistake),
    // except what a container without a running systemd says about itself.
    let findings: Vec<&str> = said
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| !HARMLESS.iter().any(|harmless| line.contains(harmless)))
        .collect();
    assert!(output.status.success(), "{said}");
    assert!(findings.is_empty(), "{findings:#?}");
}

/// What `systemd-analyze verify` may print in a container that has nothing to do with the
/// units themselves.
const HARMLESS: [&str; 2] = [
    "Failed to connect to bus",
    "System has not been booted with systemd",
];

#[test]
fn the_bankd_unit_is_hardened() {
    let unit = directives(&read("systemd/bankd.service"));

    for required in [
        "User=bankd",
        "UMask=0077",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/bankd",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "MemoryDenyWriteExecute=yes",
        "SystemCallFilter=@system-service",
        "KillSignal=SIGTERM",
        "ExecStart=/usr/local/bin/bankd serve --config /etc/bankd/bank.toml",
    ] {
        assert!(
            unit.iter().any(|line| line == required),
            "bankd.service lacks {required:?}"
        );
    }
    // The backup service writes copies of the whole database: private files, not root.
    let backup = directives(&read("systemd/bankd-backup.service"));
    for required in ["UMask=0077", "User=bankd", "NoNewPrivileges=yes"] {
        assert!(
            backup.iter().any(|line| line == required),
            "bankd-backup.service lacks {required:?}"
        );
    }
}

/// The path of `name` when it is installed; `None` (with a message) when it is not, which fails
/// under `CI=true`, where `.ci/run` installs it.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is missing under CI=true (.ci/run installs it)"
        );
        eprintln!("skipped: {name} is not installed");
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

/// A Dockerfile's instructions as (keyword, arguments), continuation lines joined.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(line);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (keyword, arguments) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
            (keyword.to_ascii_uppercase(), arguments.trim().to_owned())
        })
        .collect()
}

/// The release binary's path relative to the repository, as `.cargo/config.toml` targets it.
const RELEASE_BINARY: &str = "target/x86_64-unknown-linux-gnu/release/bankd";

#[test]
fn the_dockerfile_runs_the_static_binary_from_scratch_as_a_non_root_user() {
    let all = instructions(&read("docker/Dockerfile"));
    let last_from = all
        .iter()
        .rposition(|(keyword, _)| keyword == "FROM")
        .expect("a FROM");
    let (_, base) = &all[last_from];
    let final_stage = &all[last_from..];
    let find = |wanted: &str| -> Vec<&String> {
        final_stage
            .iter()
            .filter(|(keyword, _)| keyword == wanted)
            .map(|(_, arguments)| arguments)
            .collect()
    };

    assert_eq!(base, "scratch", "the final image must be FROM scratch");
    let binary_copy = find("COPY")
        .into_iter()
        .find(|arguments| arguments.starts_with(RELEASE_BINARY))
        .expect("a COPY of the release binary");
    let installed = binary_copy
        .split_whitespace()
        .nth(1)
        .expect("a destination");
    let cargo_config =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".cargo/config.toml"))
            .expect(".cargo/config.toml");
    assert!(
        cargo_config.contains("target = \"x86_64-unknown-linux-gnu\"")
            && cargo_config.contains("+crt-static"),
        "the binary the Dockerfile copies must be the static one"
    );

    let user = find("USER");
    let user = user.last().expect("a USER");
    let uid = user.split(':').next().unwrap_or_default();
    assert!(uid != "root" && uid != "0", "USER {user} is root");

    let exposed = find("EXPOSE");
    assert_eq!(exposed, [&"8000".to_owned()]);

    let entrypoint = find("ENTRYPOINT");
    let entrypoint: Value =
        serde_json::from_str(entrypoint.last().expect("an ENTRYPOINT")).expect("exec form");
    assert_eq!(
        entrypoint[0], installed,
        "ENTRYPOINT runs the copied binary"
    );
    let command: Value = serde_json::from_str(find("CMD").last().expect("a CMD")).expect("exec");
    assert_eq!(command[0], "serve");

    let ignore = directives(&read("docker/Dockerfile.dockerignore"));
    assert_eq!(ignore, ["*", &format!("!{RELEASE_BINARY}")]);
}

// ---------------------------------------------------------------------------------------------
// reverse proxies

#[test]
fn the_nginx_example_passes_the_headers_bankd_trusts_and_its_body_limit() {
    let text = read("nginx/bankd.conf");
    let lines = directives(&text);

    for required in [
        "listen 443 ssl;",
        "proxy_pass http://127.0.0.1:8000;",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "return 301 https://$host$request_uri;",
    ] {
        assert!(
            lines.iter().any(|l| l == required),
            "nginx lacks {required:?}"
        );
    }
    assert!(lines.iter().any(|l| l.starts_with("ssl_certificate ")));
    assert!(lines.iter().any(|l| l.starts_with("ssl_certificate_key ")));
    let limit_kib = bankd::limits::REQUEST_BODY_BYTES_MAX / 1024;
    let limit = format!("client_max_body_size {limit_kib}k;");
    assert!(lines.contains(&limit), "nginx lacks {limit:?}");
    // Its own 413 says what bankd's says, in the contract's shape.
    let body = lines
        .iter()
        .find_map(|l| l.strip_prefix("return 413 '"))
        .and_then(|rest| rest.strip_suffix("';"))
        .expect("a JSON 413");
    let body: Value = serde_json::from_str(body).expect("JSON");
    let detail = format!(
        "Request body is too large (the limit is {} bytes).",
        bankd::limits::REQUEST_BODY_BYTES_MAX
    );
    assert_eq!(body["code"], "payload_too_large");
    assert_eq!(body["detail"], detail.as_str());
    assert_metrics_hidden_and_braces_balanced("nginx/bankd.conf", &text);
}

#[test]
fn the_caddy_example_proxies_to_bankd_with_its_body_limit_and_no_compression() {
    let text = read("caddy/Caddyfile");
    let lines = directives(&text);

    assert!(lines.iter().any(|l| l == "reverse_proxy 127.0.0.1:8000"));
    let limit_kib = bankd::limits::REQUEST_BODY_BYTES_MAX / 1024;
    assert!(
        lines.contains(&format!("max_size {limit_kib}KiB")),
        "{text}"
    );
    // Caddy trusts no client's X-Forwarded-For unless told to: it must not be told to.
    assert!(!lines.iter().any(|l| l.contains("trusted_proxies")));
    // bankd leaves POST answers (tokens, card numbers) uncompressed on purpose (BREACH).
    assert!(!lines.iter().any(|l| l.starts_with("encode")));
    assert_metrics_hidden_and_braces_balanced("caddy/Caddyfile", &text);
}

#[track_caller]
fn assert_metrics_hidden_and_braces_balanced(name: &str, text: &str) {
    let lines = directives(text);
    assert!(
        lines.iter().any(|l| l.contains("/metrics")) && lines.iter().any(|l| l.contains("404")),
        "{name} must keep /metrics away from the internet"
    );
    let mut depth = 0i32;
    for line in &lines {
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        assert!(depth >= 0, "{name}: unbalanced braces at {line:?}");
    }
    assert_eq!(depth, 0, "{name}: unbalanced braces");
}

// ---------------------------------------------------------------------------------------------
// the documentation points at the files

#[test]
fn deployment_md_points_at_every_contrib_file() {
    let deployment =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/DEPLOYMENT.md"))
            .expect("DEPLOYMENT.md");
    for file in [
        "contrib/systemd/bankd.service",
        "contrib/systemd/bankd-backup.service",
        "contrib/systemd/bankd-backup.timer",
        "contrib/nginx/bankd.conf",
        "contrib/caddy/Caddyfile",
        "contrib/docker/Dockerfile",
    ] {
        assert!(
            deployment.contains(file),
            "DEPLOYMENT.md does not mention {file}"
        );
    }
}
