//! The parameters of an operation: `{id}`, the query parameters with their types, and the
//! `Idempotency-Key` header.
//!
//! A query parameter's type is declared once per name, here, rather than on every row: the
//! same name means the same thing on every route (`account` is always an account id,
//! `date_from` always a UTC date), and a generated client then types it the same everywhere.

use serde_json::{Value, json};

use super::operations::Operation;
use crate::limits::{PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};

/// The JSON Schema of a query parameter, by name; `None` for a name not declared yet
/// (`tests/schema.rs` fails on it, so a new parameter gets a type when it is added).
pub fn query_schema(name: &str) -> Option<Value> {
    let id = json!({ "type": "integer", "minimum": 1 });
    let date = json!({ "type": "string", "format": "date", "example": "2026-01-31" });
    let decimal = json!({ "type": "string", "pattern": "^[0-9]{1,10}(\\.[0-9]{1,2})?$", "example": "100.00" });
    let text = json!({ "type": "string" });
    Some(match name {
        "page" => json!({ "type": "integer", "minimum": 1 }),
        // The server caps a larger size (as DRF does); the document states the cap.
        "page_size" => json!({
            "type": "integer", "minimum": 1, "maximum": PAGE_SIZE_MAX, "default": PAGE_SIZE_DEFAULT
        }),
        "account" | "user" | "customer" => id,
        "status" => json!({ "type": "string", "enum": ["active", "frozen", "closed"] }),
        "transaction_type" => json!({
            "type": "string", "enum": ["deposit", "withdrawal", "transfer_out", "transfer_in"]
        }),
        "date_from" | "date_to" => date,
        "min_amount" | "max_amount" => decimal,
        "format" => json!({ "type": "string", "enum": ["json", "csv"], "default": "json" }),
        "username" | "account_number" | "action" | "ordering" | "search" => text,
        _ => return None,
    })
}

/// Every parameter of `operation`, in the order path, query, header.
pub fn of(operation: &Operation) -> Vec<Value> {
    let mut parameters: Vec<Value> = Vec::new();
    if operation.path.contains("{id}") {
        parameters.push(json!({
            "name": "id", "in": "path", "required": true,
            "schema": { "type": "integer", "minimum": 1 }
        }));
    }
    for (name, description) in operation.query {
        let schema = query_schema(name).unwrap_or_else(|| json!({ "type": "string" }));
        parameters.push(json!({
            "name": name, "in": "query", "required": false,
            "description": description, "schema": schema
        }));
    }
    // The movement routes, and only they, answer 409 (a key still in flight).
    if operation.errors.contains(&409) {
        parameters.push(json!({
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "1–255 printable ASCII characters; a retry with the same key and body is answered from the first attempt (header Idempotent-Replayed: true) without moving money again. Kept 24 hours, per user.",
            "schema": { "type": "string", "minLength": 1, "maxLength": 255 }
        }));
    }
    parameters
}
