//! `GET /api/schema/`: the OpenAPI 3 document of every route, built from the table of
//! operations in `operations.rs` and the component schemas in `components.rs`.
//!
//! The document is data in code rather than annotations scattered over handlers: one table
//! lists every route with its auth, body, success and error answers. `tests/schema.rs` checks
//! the table against the `.route(...)` calls of the router source and validates real responses
//! against these schemas, so the two cannot drift apart silently.

mod components;
mod operations;
mod parameters;
mod render;

use std::sync::LazyLock;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::state::AppState;

pub use operations::{Auth, OPERATIONS, Operation};
pub use parameters::query_schema;
pub use render::{error_statuses, operation_id, tag};

static DOCUMENT: LazyLock<Value> = LazyLock::new(build);

pub fn router() -> Router<AppState> {
    Router::new().route("/api/schema", get(schema))
}

async fn schema() -> Json<Value> {
    Json(DOCUMENT.clone())
}

/// The whole document.
pub fn document() -> &'static Value {
    &DOCUMENT
}

fn build() -> Value {
    let mut paths = Map::new();
    for operation in OPERATIONS {
        let item = paths
            .entry(operation.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(
                operation.method.to_ascii_lowercase(),
                render::render(operation),
            );
        }
    }
    // Declared in table order, so the generated docs group resources as the table does.
    let mut tags: Vec<String> = Vec::new();
    for operation in OPERATIONS {
        let tag = render::tag(operation);
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let tags: Vec<Value> = tags
        .into_iter()
        .map(|tag| match render::tag_description(&tag) {
            Some(description) => json!({ "name": tag, "description": description }),
            None => json!({ "name": tag }),
        })
        .collect();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "bankd",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A bank's REST API in the wire format of Django REST Framework: token auth, trailing-slash URLs, DRF error bodies, page-number pagination, money as two-decimal strings. Every route is also served without its trailing slash. Request bodies are documented as JSON; every one is also accepted as application/x-www-form-urlencoded or multipart/form-data with the same fields. An error body is either {\"detail\", \"code\"} (`Error`: a business rule, authentication, throttling…) or, on a 400 only, field errors (`FieldErrors`: each field with its messages); `code` tells them apart."
        },
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "tokenAuth": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "`Token <40 hex characters>` from POST /api/get-token/ (the keyword is case-insensitive)."
                },
                "bearerAuth": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }
            },
            "schemas": components::schemas()
        }
    })
}
