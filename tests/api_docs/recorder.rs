//! The recorder: the app on port 0, requests kept in the form the examples show, and the
//! exchanges recorded under their labels.

use std::collections::BTreeMap;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::PASSWORD;
use crate::normalise::SHOWN_HOST;

/// The app the tour talks to: the shared in-process harness (`tests/support/app.rs`).
pub use crate::support::app::{TestApp as Server, spawn_app_with as start};

// ---------------------------------------------------------------------------------------------
// Requests, as sent and as shown.

/// A request body, kept in the form the example shows.
#[derive(Clone, Debug)]
pub enum Body {
    None,
    /// Compact JSON text, sent and shown byte for byte.
    Json(String),
    /// `-d key=value` pairs (values must need no URL encoding).
    Form(Vec<(String, String)>),
    /// Any other media type, sent and shown as is.
    Raw {
        content_type: String,
        text: String,
    },
    /// A body too big to print: `bytes` of JSON, shown as `@file`.
    Large {
        bytes: usize,
        file: &'static str,
    },
}

/// How an answer is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    /// Status, selected headers, whole body.
    Full,
    /// Status and every header but `date` and `content-length`.
    AllHeaders,
    /// Status and headers, no body (HTML).
    NoBody,
    /// Only the OpenAPI document's first keys.
    SchemaExcerpt,
    /// Prometheus text with every sample value replaced by `<n>`.
    Metrics,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub display: Display,
}

impl Request {
    pub fn new(method: Method, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Body::None,
            display: Display::Full,
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }

    pub fn put(path: &str) -> Self {
        Self::new(Method::PUT, path)
    }

    pub fn patch(path: &str) -> Self {
        Self::new(Method::PATCH, path)
    }

    pub fn delete(path: &str) -> Self {
        Self::new(Method::DELETE, path)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn token(self, token: &str) -> Self {
        self.header("Authorization", &format!("Token {token}"))
    }

    pub fn bearer(self, jwt: &str) -> Self {
        self.header("Authorization", &format!("Bearer {jwt}"))
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body.to_string());
        self
    }

    pub fn json_text(mut self, text: &str) -> Self {
        self.body = Body::Json(text.to_owned());
        self
    }

    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        self.body = Body::Form(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        self
    }

    pub fn raw(mut self, content_type: &str, text: &str) -> Self {
        self.body = Body::Raw {
            content_type: content_type.to_owned(),
            text: text.to_owned(),
        };
        self
    }

    pub fn large(mut self, bytes: usize, file: &'static str) -> Self {
        self.body = Body::Large { bytes, file };
        self
    }

    pub fn display(mut self, display: Display) -> Self {
        self.display = display;
        self
    }
}

/// An answer: status, headers, text, and the text as JSON when it is JSON.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Response {
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        &self.json
    }

    #[track_caller]
    pub fn id(&self) -> i64 {
        self.json["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no id in {}", self.text))
    }

    #[track_caller]
    pub fn text_of(&self, field: &str) -> String {
        self.json[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {}", self.text))
            .to_owned()
    }
}

/// One recorded example.
pub enum Example {
    Http {
        request: Box<Request>,
        response: Box<Response>,
    },
    Command {
        shown: String,
        output: String,
    },
}

// ---------------------------------------------------------------------------------------------
// The recorder.

pub struct Tour {
    pub client: reqwest::Client,
    /// Where requests go now (the main server, or the throttled one for a moment).
    pub base: String,
    pub examples: BTreeMap<String, Example>,
    /// Labels in recording order, for coverage messages.
    pub order: Vec<String>,
    /// Real text → what the examples show instead.
    pub aliases: Vec<(String, String)>,
    account_numbers: usize,
}

impl Tour {
    pub fn new(server: &Server) -> Self {
        let mut tour = Self {
            client: reqwest::Client::new(),
            base: server.address.clone(),
            examples: BTreeMap::new(),
            order: Vec::new(),
            aliases: Vec::new(),
            account_numbers: 0,
        };
        tour.alias(server.host(), SHOWN_HOST);
        tour
    }

    pub fn alias(&mut self, real: &str, shown: &str) {
        if !self.aliases.iter().any(|(known, _)| known == real) {
            self.aliases.push((real.to_owned(), shown.to_owned()));
        }
    }

    /// Sends `request`, records it as the example `label`, and checks that the answer has the
    /// status the example is there to show.
    pub async fn check(&mut self, label: &str, request: Request, status: u16) -> Response {
        let response = self.send(label, request).await;
        assert_eq!(
            response.status, status,
            "{label}: unexpected answer {}",
            response.text
        );
        response
    }

    /// Sends `request` and records it as the example `label`.
    async fn send(&mut self, label: &str, request: Request) -> Response {
        let response = self.quiet(request.clone()).await;
        let previous = self.examples.insert(
            label.to_owned(),
            Example::Http {
                request: Box::new(request),
                response: Box::new(response.clone()),
            },
        );
        assert!(previous.is_none(), "example {label} recorded twice");
        self.order.push(label.to_owned());
        response
    }

    /// Sends `request` without recording it (arrangements the reader need not see).
    pub async fn quiet(&mut self, request: Request) -> Response {
        let url = format!("{}{}", self.base, request.path);
        // The server answers an oversized body without reading it and closes the connection:
        // send it on a connection of its own, so the next request does not find it closed.
        let client = match request.body {
            Body::Large { .. } => reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("a client"),
            _ => self.client.clone(),
        };
        let mut builder = client.request(request.method.clone(), url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        builder = match &request.body {
            Body::None => builder,
            Body::Json(text) => builder
                .header("Content-Type", "application/json")
                .body(text.clone()),
            Body::Form(pairs) => {
                let text = pairs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&");
                builder
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(text)
            }
            Body::Raw { content_type, text } => builder
                .header("Content-Type", content_type)
                .body(text.clone()),
            Body::Large { bytes, .. } => {
                let filler = "x".repeat(bytes.saturating_sub(20));
                let text = format!("{{\"amount\": \"{filler}\"}}");
                builder
                    .header("Content-Type", "application/json")
                    .body(text)
            }
        };
        let response = builder.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        self.collect_account_numbers(&json);
        Response {
            status,
            headers,
            text,
            json,
        }
    }

    /// Gives every account number the server reveals a stable stand-in, in order of first
    /// appearance.
    fn collect_account_numbers(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("account_number" | "counterparty_account_number", Value::String(n)) => {
                            if !self.aliases.iter().any(|(real, _)| real == n) {
                                self.account_numbers += 1;
                                let shown = format!("ACC-{}", 100_000_000 + self.account_numbers);
                                self.aliases.push((n.clone(), shown));
                            }
                        }
                        _ => self.collect_account_numbers(value),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.collect_account_numbers(v)),
            _ => {}
        }
    }

    pub fn record_command(&mut self, label: &str, shown: &str, output: &str) {
        self.examples.insert(
            label.to_owned(),
            Example::Command {
                shown: shown.to_owned(),
                output: output.to_owned(),
            },
        );
        self.order.push(label.to_owned());
    }

    /// Registers `username` with a full profile; returns nothing (asserts `201`).
    pub async fn register_quietly(&mut self, username: &str) {
        let body = registration(username, "Test Customer");
        self.quiet(Request::post("/api/register/").json(body))
            .await
            .expect(201);
    }

    /// Logs in; returns the token, aliased as `shown`.
    pub async fn login_quietly(&mut self, username: &str, shown: &str) -> String {
        let body = json!({ "username": username, "password": PASSWORD });
        let response = self
            .quiet(Request::post("/api/get-token/").json(body))
            .await;
        let token = response.expect(200)["token"]
            .as_str()
            .expect("token")
            .to_owned();
        self.alias(&token, shown);
        token
    }
}

pub fn registration(username: &str, full_name: &str) -> Value {
    json!({
        "username": username,
        "password": PASSWORD,
        "full_name": full_name,
        "email": format!("{username}@example.com"),
        "phone_number": "+1 555 0100",
        "date_of_birth": "1990-01-31",
        "gender": "F",
    })
}
