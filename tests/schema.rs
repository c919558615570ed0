//! The OpenAPI document at `/api/schema/` matches what the server does:
//! every `.route(...)` in the router source is documented (and nothing else is), and real
//! responses from a tour of the API validate against the documented schemas.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

#[path = "schema/document.rs"]
mod document;

// Part of the shared harness is for the other test binaries (see `tests/support/mod.rs`).
#[allow(dead_code)]
#[path = "support/mod.rs"]
mod support;

/// Every (METHOD, documented path) the router registers, read from `src/http`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut files = vec![dir.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read src/http") {
                files.push(entry.expect("entry").path());
            }
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("read source");
        let mut rest = source.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call's arguments end where the parentheses balance.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            let call = &rest[..end];
            let Some(path) = call.split('"').nth(1) else {
                continue;
            };
            for method in ["get", "post", "put", "patch", "delete"] {
                let calls_method = call.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0
                        || !call.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && call.as_bytes()[i - 1] != b'_'
                });
                if calls_method {
                    routes.insert((method.to_ascii_uppercase(), documented_path(path)));
                }
            }
        }
    }
    routes
}

/// The router registers paths without the trailing slash (it trims requests'); the API's
/// documented form has one.
fn documented_path(path: &str) -> String {
    if path.starts_with("/api/") {
        format!("{path}/")
    } else {
        path.to_owned()
    }
}

/// Console pages and assets are HTML, not API operations.
fn is_console(path: &str) -> bool {
    path == "/" || path.starts_with("/api-auth/") || path.starts_with("/static/")
}

#[test]
fn every_route_in_the_router_is_documented_and_nothing_else_is() {
    let served: BTreeSet<_> = routes_in_source()
        .into_iter()
        .filter(|(_, path)| !is_console(path))
        .collect();
    let documented: BTreeSet<_> = bankd::http::schema::OPERATIONS
        .iter()
        .map(|op| (op.method.to_owned(), op.path.to_owned()))
        .collect();
    assert!(
        served.len() > 30,
        "the source scan found too few routes: {served:?}"
    );
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
}

/// A small JSON Schema (OpenAPI 3.0 subset) validator: `$ref`, `type`, `nullable`,
/// `required`, `properties`, `additionalProperties`, `items`, `enum`, `oneOf`, `allOf`.
fn validate(document: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    validate_in(document, schema, value, at, true)
}

/// `strict`: properties not in the schema are an error (off inside `allOf`, where each member
/// documents only part of the object).
fn validate_in(
    document: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    strict: bool,
) -> Result<(), String> {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &document["components"]["schemas"][name];
        assert!(!target.is_null(), "dangling $ref {reference}");
        return validate_in(document, target, value, at, strict);
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        all.iter()
            .try_for_each(|s| validate_in(document, s, value, at, false))?;
        let documented: BTreeSet<String> = all
            .iter()
            .filter_map(|s| {
                resolve(document, s)
                    .get("properties")
                    .and_then(Value::as_object)
            })
            .flat_map(|p| p.keys().cloned())
            .collect();
        if let Some(object) = value.as_object()
            && let Some(extra) = object.keys().find(|k| !documented.contains(*k))
        {
            return Err(format!("{at}: undocumented property {extra}"));
        }
        return Ok(());
    }
    if let Some(any) = schema.get("oneOf").and_then(Value::as_array) {
        return if any.iter().any(|s| validate(document, s, value, at).is_ok()) {
            Ok(())
        } else {
            Err(format!("{at}: matches none of oneOf: {value}"))
        };
    }
    if value.is_null() {
        return if schema.get("nullable") == Some(&Value::Bool(true)) || schema.get("type").is_none()
        {
            Ok(())
        } else {
            Err(format!("{at}: null but not nullable"))
        };
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => false,
        };
        if !ok {
            return Err(format!("{at}: expected {kind}, got {value}"));
        }
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array)
        && !choices.contains(value)
    {
        return Err(format!("{at}: {value} not in {choices:?}"));
    }
    if let Some(object) = value.as_object() {
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = required.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Err(format!("{at}: missing required {name}"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in object {
            let field_at = format!("{at}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(field_schema) => validate(document, field_schema, field, &field_at)?,
                None => match schema.get("additionalProperties") {
                    Some(extra) if extra.is_object() => {
                        validate(document, extra, field, &field_at)?
                    }
                    _ if strict && properties.is_some() => {
                        return Err(format!("{at}: undocumented property {name}"));
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate(document, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            &document["components"]["schemas"]
                [reference.trim_start_matches("#/components/schemas/")]
        }
        None => schema,
    }
}

struct Client {
    base: String,
    http: reqwest::Client,
    document: Value,
    checked: std::cell::RefCell<BTreeSet<(String, String, u16)>>,
}

impl Client {
    /// Sends a request and validates the JSON answer against the documented schema for
    /// (method, template, status).
    async fn call(
        &self,
        method: &str,
        template: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.parse().expect("method"), url);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let media = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            });
        let text = response.text().await.expect("body");
        let operation = &self.document["paths"][template][method.to_ascii_lowercase()];
        assert!(
            !operation.is_null(),
            "{method} {template} is not documented"
        );
        let documented = &operation["responses"][status.to_string()];
        assert!(
            !documented.is_null(),
            "{method} {template} answered {status}, which is not documented: {text}"
        );
        let at = format!("{method} {template} {status}");
        if text.is_empty() {
            return self.record(method, template, status, Value::Null);
        }
        // The answer's media type is one the document declares for this status: a CSV
        // declared as JSON is exactly what a generated client chokes on.
        let media = media.unwrap_or_else(|| panic!("{at}: a body without Content-Type"));
        let schema = documented
            .get("content")
            .and_then(|content| content.get(&media))
            .map(|declared| &declared["schema"])
            .unwrap_or_else(|| panic!("{at}: answered {media}, which is not declared: {text}"));
        let value = if media == "application/json" {
            serde_json::from_str(&text).expect("JSON body")
        } else {
            Value::String(text)
        };
        validate(&self.document, schema, &value, &at).unwrap_or_else(|e| panic!("{e}"));
        self.record(method, template, status, value)
    }

    fn record(&self, method: &str, template: &str, status: u16, value: Value) -> (u16, Value) {
        self.checked
            .borrow_mut()
            .insert((method.to_owned(), template.to_owned(), status));
        (status, value)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_of_a_tour_of_the_api_match_their_documented_schemas() {
    let app = support::app::spawn_app().await;
    let base = app.address.clone();
    let http = reqwest::Client::new();
    let document: Value = http
        .get(format!("{base}/api/schema/"))
        .send()
        .await
        .expect("schema")
        .json()
        .await
        .expect("json");
    assert_eq!(document["openapi"], "3.0.3");
    let c = Client {
        base,
        http,
        document,
        checked: Default::default(),
    };

    c.call("GET", "/healthz", "/healthz", None, None).await;
    c.call("GET", "/readyz", "/readyz", None, None).await;
    let register = json!({"username": "tour", "password": "a-strong-password123", "full_name": "Tour Guide", "email": "tour@example.com", "gender": "O"});
    assert_eq!(
        c.call(
            "POST",
            "/api/register/",
            "/api/register/",
            None,
            Some(register.clone())
        )
        .await
        .0,
        201
    );
    assert_eq!(
        c.call(
            "POST",
            "/api/register/",
            "/api/register/",
            None,
            Some(register)
        )
        .await
        .0,
        400
    );
    let credentials = json!({"username": "tour", "password": "a-strong-password123"});
    let (_, token) = c
        .call(
            "POST",
            "/api/get-token/",
            "/api/get-token/",
            None,
            Some(credentials.clone()),
        )
        .await;
    let token = token["token"].as_str().expect("token").to_owned();
    let t = Some(token.as_str());
    c.call(
        "POST",
        "/api/get-token/",
        "/api/get-token/",
        None,
        Some(json!({"username": "tour", "password": "wrong-password"})),
    )
    .await;
    let (_, pair) = c
        .call(
            "POST",
            "/api/token/",
            "/api/token/",
            None,
            Some(credentials),
        )
        .await;
    c.call(
        "POST",
        "/api/token/refresh/",
        "/api/token/refresh/",
        None,
        Some(json!({"refresh": pair["refresh"]})),
    )
    .await;
    c.call(
        "POST",
        "/api/token/refresh/",
        "/api/token/refresh/",
        None,
        Some(json!({"refresh": "nope"})),
    )
    .await;

    let (_, customers) = c
        .call("GET", "/api/customers/", "/api/customers/", t, None)
        .await;
    let customer_id = customers["results"][0]["id"].as_i64().expect("customer");
    let customer_path = format!("/api/customers/{customer_id}/");
    c.call("GET", "/api/customers/{id}/", &customer_path, t, None)
        .await;
    c.call(
        "PATCH",
        "/api/customers/{id}/",
        &customer_path,
        t,
        Some(json!({"phone_number": "+1 555 0100"})),
    )
    .await;
    c.call("PUT", "/api/customers/{id}/", &customer_path, t, Some(json!({"full_name": "Tour Guide", "email": "tour@example.com", "phone_number": null, "date_of_birth": "1990-01-01", "gender": "F"}))).await;
    c.call(
        "POST",
        "/api/customers/",
        "/api/customers/",
        t,
        Some(json!({"full_name": "Again", "email": "a@example.com"})),
    )
    .await;
    c.call(
        "GET",
        "/api/customers/{id}/",
        "/api/customers/999999/",
        t,
        None,
    )
    .await;

    let (_, first) = c
        .call(
            "POST",
            "/api/accounts/",
            "/api/accounts/",
            t,
            Some(json!({"nickname": "main"})),
        )
        .await;
    let (_, second) = c
        .call(
            "POST",
            "/api/accounts/",
            "/api/accounts/",
            t,
            Some(json!({"account_type": "savings"})),
        )
        .await;
    let first_id = first["id"].as_i64().expect("id");
    let first_path = format!("/api/accounts/{first_id}/");
    c.call("GET", "/api/accounts/", "/api/accounts/", t, None)
        .await;
    c.call("GET", "/api/accounts/{id}/", &first_path, t, None)
        .await;
    c.call(
        "PATCH",
        "/api/accounts/{id}/",
        &first_path,
        t,
        Some(json!({"nickname": "renamed"})),
    )
    .await;
    c.call(
        "PUT",
        "/api/accounts/{id}/",
        &first_path,
        t,
        Some(json!({"account_type": "business", "nickname": "biz"})),
    )
    .await;
    c.call(
        "POST",
        "/api/accounts/{id}/deposit/",
        &format!("{first_path}deposit/"),
        t,
        Some(json!({"amount": "100.00"})),
    )
    .await;
    c.call(
        "POST",
        "/api/accounts/{id}/withdraw/",
        &format!("{first_path}withdraw/"),
        t,
        Some(json!({"amount": 0.07})),
    )
    .await;
    c.call(
        "POST",
        "/api/accounts/{id}/withdraw/",
        &format!("{first_path}withdraw/"),
        t,
        Some(json!({"amount": "1000.00"})),
    )
    .await;
    c.call(
        "POST",
        "/api/accounts/{id}/withdraw/",
        &format!("{first_path}withdraw/"),
        t,
        Some(json!({"amount": "-1"})),
    )
    .await;
    let transfer = json!({"to_account_number": second["account_number"], "amount": "10.00"});
    c.call(
        "POST",
        "/api/accounts/{id}/transfer/",
        &format!("{first_path}transfer/"),
        t,
        Some(transfer),
    )
    .await;
    c.call("DELETE", "/api/accounts/{id}/", &first_path, t, None)
        .await;

    let (_, transactions) = c
        .call(
            "GET",
            "/api/transactions/",
            "/api/transactions/?page_size=2",
            t,
            None,
        )
        .await;
    let transaction_id = transactions["results"][0]["id"]
        .as_i64()
        .expect("transaction");
    c.call(
        "GET",
        "/api/transactions/{id}/",
        &format!("/api/transactions/{transaction_id}/"),
        t,
        None,
    )
    .await;
    c.call(
        "GET",
        "/api/transactions/",
        "/api/transactions/?date_from=nope",
        t,
        None,
    )
    .await;

    let (_, card) = c
        .call(
            "POST",
            "/api/cards/",
            "/api/cards/",
            t,
            Some(json!({"account": first_id, "card_type": "credit", "credit_limit": "500.00"})),
        )
        .await;
    let card_path = format!("/api/cards/{}/", card["id"]);
    c.call("GET", "/api/cards/", "/api/cards/", t, None).await;
    c.call("GET", "/api/cards/{id}/", &card_path, t, None).await;
    c.call(
        "PATCH",
        "/api/cards/{id}/",
        &card_path,
        t,
        Some(json!({"status": "frozen"})),
    )
    .await;
    c.call("DELETE", "/api/cards/{id}/", &card_path, t, None)
        .await;

    let today = chrono::Utc::now().date_naive().to_string();
    let statement_body = json!({"start_date": "2026-01-01", "end_date": today});
    let (_, statement) = c
        .call(
            "POST",
            "/api/accounts/{id}/statements/",
            &format!("{first_path}statements/"),
            t,
            Some(statement_body),
        )
        .await;
    c.call(
        "GET",
        "/api/accounts/{id}/statements/",
        &format!("{first_path}statements/"),
        t,
        None,
    )
    .await;
    c.call("GET", "/api/statements/", "/api/statements/", t, None)
        .await;
    c.call(
        "GET",
        "/api/statements/{id}/",
        &format!("/api/statements/{}/", statement["id"]),
        t,
        None,
    )
    .await;

    let (status, csv) = c
        .call(
            "GET",
            "/api/statements/{id}/",
            &format!("/api/statements/{}/?format=csv", statement["id"]),
            t,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        csv.as_str()
            .is_some_and(|csv| csv.starts_with("created_at,"))
    );

    c.call(
        "GET",
        "/api/admin/accounts/",
        "/api/admin/accounts/",
        t,
        None,
    )
    .await;
    c.call("POST", "/api/logout/", "/api/logout/", t, None)
        .await;
    c.call("GET", "/api/accounts/", "/api/accounts/", t, None)
        .await;

    let checked = c.checked.borrow();
    let operations: BTreeSet<_> = checked
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    assert!(
        operations.len() >= 30,
        "the tour exercised only {} operations",
        operations.len()
    );
}
