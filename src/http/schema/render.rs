//! One row of the operations table as an OpenAPI operation object.
//!
//! Everything a client generator reads is derived here from the row's shape, in the style of
//! drf-spectacular (what DRF integrators' tooling expects): a tag per resource, operationIds
//! `<path words>_<action>` (`accounts_deposit_create`, `transactions_list`), and every 4xx the
//! route can answer. Deriving rather than listing per row keeps each row one line and means a
//! route added later gets all of it.

use serde_json::{Map, Value, json};

use super::operations::{Auth, Operation};
use super::parameters;

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// The words of the path after `/api/`, without `{id}`: `/api/accounts/{id}/deposit/` →
/// `["accounts", "deposit"]`.
fn path_words(path: &str) -> Vec<String> {
    path.trim_start_matches("/api/")
        .split('/')
        .filter(|word| !word.is_empty() && !word.starts_with('{'))
        .map(|word| word.replace('-', "_"))
        .collect()
}

/// A GET answering a page envelope is a list; any other GET reads one thing.
fn is_list(operation: &Operation) -> bool {
    operation
        .success
        .1
        .is_some_and(|schema| schema.ends_with("Page"))
}

/// drf-spectacular's operationId: the path's words, then the viewset action.
pub fn operation_id(operation: &Operation) -> String {
    let action = match operation.method {
        "GET" if is_list(operation) => "list".to_owned(),
        "GET" => "retrieve".to_owned(),
        "POST" => "create".to_owned(),
        "PUT" => "update".to_owned(),
        "PATCH" => "partial_update".to_owned(),
        "DELETE" => "destroy".to_owned(),
        other => other.to_ascii_lowercase(),
    };
    let mut words = path_words(operation.path);
    words.push(action);
    words.join("_")
}

/// The resource an operation belongs to: its first path word, except that the ways of
/// getting and dropping credentials share `auth` and the operator's probes share `meta`, so a
/// generated client has one module for each instead of one per route.
pub fn tag(operation: &Operation) -> String {
    let words = path_words(operation.path);
    let first = words.first().map_or("meta", String::as_str);
    match first {
        "register" | "get_token" | "logout" | "token" | "password" => "auth".to_owned(),
        "healthz" | "readyz" | "metrics" | "schema" => "meta".to_owned(),
        resource => resource.to_owned(),
    }
}

/// What each tag groups, for the document's `tags` list; `None` for a tag not described yet.
pub fn tag_description(tag: &str) -> Option<&'static str> {
    Some(match tag {
        "meta" => "Liveness, readiness, metrics and this document",
        "auth" => "Registration, tokens (opaque and JWT) and logout",
        "me" => "The caller's own user",
        "customers" => "The caller's customer profile",
        "accounts" => "The caller's accounts, and moving money between them",
        "transactions" => "The caller's ledger postings",
        "cards" => "The caller's cards",
        "statements" => "The caller's statements (JSON or CSV)",
        "admin" => "Staff only: every customer, account, transaction and the audit log",
        _ => return None,
    })
}

fn error_response(status: u16) -> Value {
    let (description, schema) = match status {
        // `Error` comes first: generated clients try the members in order, and an object of
        // field errors (`additionalProperties`) would swallow `{"detail", "code"}` if tried
        // first, while `Error` requires `code` and so rejects field errors.
        400 => (
            "A business rule (detail and code, e.g. insufficient_funds) or validation (field errors)",
            json!({ "oneOf": [schema_ref("Error"), schema_ref("FieldErrors")] }),
        ),
        401 => (
            "Missing, invalid or expired credentials",
            schema_ref("Error"),
        ),
        403 => ("Not staff", schema_ref("Error")),
        404 => ("Not found, or not yours", schema_ref("Error")),
        409 => (
            "The same Idempotency-Key is still in flight",
            schema_ref("Error"),
        ),
        413 => ("Body over 64 KiB", schema_ref("Error")),
        415 => ("Body is neither JSON nor a form", schema_ref("Error")),
        422 => (
            "Idempotency-Key reused with a different request",
            schema_ref("Error"),
        ),
        429 => ("Throttled; see Retry-After", schema_ref("Error")),
        503 => ("Busy; retry after Retry-After", schema_ref("Error")),
        _ => ("Error", schema_ref("Error")),
    };
    json!({ "description": description, "content": json_content(schema) })
}

/// Every error status the operation can answer: the row's own, plus those its shape implies.
pub fn error_statuses(operation: &Operation) -> Vec<u16> {
    let mut statuses: Vec<u16> = operation.errors.to_vec();
    if operation.body.is_some() {
        // Malformed JSON or a bad field, a body over the limit, another media type.
        statuses.extend([400, 413, 415]);
    }
    if operation.auth != Auth::Public {
        statuses.push(401);
    }
    if operation.auth == Auth::Staff {
        statuses.push(403);
    }
    // An id that is not the caller's, or a page past the end of a list, is a 404.
    if operation.path.contains("{id}") || operation.query.iter().any(|(name, _)| *name == "page") {
        statuses.push(404);
    }
    // Every write goes through the one writer, whose bounded queue answers 503 when full.
    if operation.method != "GET" && operation.path.starts_with("/api/") {
        statuses.push(503);
    }
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

fn success_response(operation: &Operation) -> Value {
    let mut content = Map::new();
    if let Some(name) = operation.success.1 {
        content.insert(
            "application/json".to_owned(),
            json!({ "schema": schema_ref(name) }),
        );
    }
    for media in operation.media {
        content.insert(
            (*media).to_owned(),
            json!({ "schema": { "type": "string" } }),
        );
    }
    if content.is_empty() {
        json!({ "description": "Success" })
    } else {
        json!({ "description": "Success", "content": content })
    }
}

/// One operation as an OpenAPI operation object.
pub fn render(operation: &Operation) -> Value {
    let mut responses = Map::new();
    responses.insert(operation.success.0.to_string(), success_response(operation));
    for status in error_statuses(operation) {
        responses.insert(status.to_string(), error_response(status));
    }
    let mut rendered = json!({
        "tags": [tag(operation)],
        "summary": operation.summary,
        "operationId": operation_id(operation),
        "parameters": parameters::of(operation),
        "responses": responses,
    });
    if let Some(body) = operation.body {
        // JSON only: listing the form encoding too, with the same schema, makes generators
        // type the body as a union of the same model twice. The form is still accepted and
        // says so here.
        rendered["requestBody"] = json!({
            "required": true,
            "description": "JSON, or the same fields as application/x-www-form-urlencoded (as DRF accepts).",
            "content": json_content(schema_ref(body))
        });
    }
    rendered["security"] = match operation.auth {
        Auth::Public => json!([]),
        Auth::User | Auth::Staff => json!([{ "tokenAuth": [] }, { "bearerAuth": [] }]),
    };
    rendered
}
