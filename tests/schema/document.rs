//! The document's own rules, the ones client generators and validators trip on (issue #12):
//! checked on `bankd::http::schema::document()` directly, so each names what broke.

use std::collections::BTreeSet;

use bankd::http::schema::{OPERATIONS, document, error_statuses, query_schema};
use serde_json::Value;

/// Every (method, path, operation object) of the document.
fn operations() -> Vec<(String, String, &'static Value)> {
    let mut found = Vec::new();
    for (path, item) in document()["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            found.push((method.to_ascii_uppercase(), path.clone(), operation));
        }
    }
    found
}

/// Every schema object anywhere in the document, depth first.
fn every_node(value: &'static Value, out: &mut Vec<&'static Value>) {
    match value {
        Value::Object(map) => {
            out.push(value);
            map.values().for_each(|child| every_node(child, out));
        }
        Value::Array(items) => items.iter().for_each(|child| every_node(child, out)),
        _ => {}
    }
}

fn resolve(schema: &'static Value) -> &'static Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => &document()["components"]["schemas"]
            [reference.trim_start_matches("#/components/schemas/")],
        None => schema,
    }
}

#[test]
fn operation_ids_are_unique_and_name_the_resource_then_the_action() {
    let ids: Vec<String> = operations()
        .iter()
        .map(|(method, path, operation)| {
            let id = operation["operationId"].as_str().unwrap_or_default();
            let snake = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            assert!(
                snake,
                "{method} {path}: operationId {id:?} is not snake_case"
            );
            assert!(
                !id.starts_with(&method.to_ascii_lowercase()),
                "{method} {path}: operationId {id:?} starts with the method"
            );
            id.to_owned()
        })
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "duplicate operationIds: {ids:?}");
    let id_of = |method: &str, path: &str| document()["paths"][path][method]["operationId"].clone();
    assert_eq!(
        id_of("post", "/api/accounts/{id}/deposit/"),
        "accounts_deposit_create"
    );
    assert_eq!(id_of("get", "/api/transactions/"), "transactions_list");
    assert_eq!(id_of("get", "/api/accounts/{id}/"), "accounts_retrieve");
    assert_eq!(id_of("patch", "/api/cards/{id}/"), "cards_partial_update");
    assert_eq!(id_of("delete", "/api/cards/{id}/"), "cards_destroy");
    assert_eq!(
        id_of("post", "/api/admin/accounts/{id}/freeze/"),
        "admin_accounts_freeze_create"
    );
    assert_eq!(id_of("post", "/api/get-token/"), "get_token_create");
}

#[test]
fn every_operation_has_one_declared_tag_named_after_its_resource() {
    let declared: BTreeSet<String> = document()["tags"]
        .as_array()
        .expect("top-level tags")
        .iter()
        .map(|tag| tag["name"].as_str().expect("tag name").to_owned())
        .collect();
    for (method, path, operation) in operations() {
        let tags = operation["tags"].as_array().expect("tags");
        assert_eq!(tags.len(), 1, "{method} {path}: tags {tags:?}");
        let tag = tags[0].as_str().expect("tag");
        assert!(
            declared.contains(tag),
            "{method} {path}: tag {tag} is not declared"
        );
    }
    let tag_of = |method: &str, path: &str| document()["paths"][path][method]["tags"][0].clone();
    assert_eq!(tag_of("post", "/api/accounts/{id}/transfer/"), "accounts");
    assert_eq!(tag_of("post", "/api/register/"), "auth");
    assert_eq!(tag_of("get", "/api/admin/audit/"), "admin");
    assert!(declared.len() >= 8, "too few tags: {declared:?}");
}

#[test]
fn no_schema_has_an_empty_required_list() {
    let mut nodes = Vec::new();
    every_node(document(), &mut nodes);
    for node in nodes {
        if let Some(required) = node.get("required").and_then(Value::as_array) {
            assert!(!required.is_empty(), "empty required in {node}");
        }
    }
}

#[test]
fn every_nullable_enum_lists_null_among_its_values() {
    let mut nodes = Vec::new();
    every_node(document(), &mut nodes);
    let lists_null = |schema: &'static Value| {
        resolve(schema)
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|values| values.contains(&Value::Null))
    };
    let is_enum = |schema: &'static Value| resolve(schema).get("enum").is_some();
    let mut checked = 0;
    for node in nodes
        .into_iter()
        .filter(|n| n.get("nullable") == Some(&Value::Bool(true)))
    {
        if is_enum(node) {
            assert!(lists_null(node), "nullable enum without null: {node}");
            checked += 1;
        }
        if let Some(members) = node.get("oneOf").and_then(Value::as_array)
            && members.iter().any(is_enum)
        {
            assert!(
                members.iter().any(lists_null),
                "nullable enum without null: {node}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "gender (three times) should have been checked"
    );
}

#[test]
fn request_bodies_are_declared_once_as_json_and_say_the_form_is_accepted() {
    for (method, path, operation) in operations() {
        let Some(body) = operation.get("requestBody") else {
            continue;
        };
        let media: Vec<&String> = body["content"]
            .as_object()
            .expect("content")
            .keys()
            .collect();
        assert_eq!(media, ["application/json"], "{method} {path}");
        let description = body["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("application/x-www-form-urlencoded"),
            "{method} {path}: the form encoding is not documented"
        );
    }
}

#[test]
fn errors_require_a_code_and_a_400_tries_the_error_before_field_errors() {
    let error = &document()["components"]["schemas"]["Error"];
    let required = error["required"].as_array().expect("required");
    assert!(required.contains(&Value::from("code")));
    for (method, path, operation) in operations() {
        let Some(bad_request) = operation["responses"].get("400") else {
            continue;
        };
        let members = bad_request
            .pointer("/content/application~1json/schema/oneOf")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{method} {path}: 400 is not oneOf"));
        assert_eq!(
            members[0]["$ref"], "#/components/schemas/Error",
            "{method} {path}"
        );
        assert_eq!(members[1]["$ref"], "#/components/schemas/FieldErrors");
    }
}

#[test]
fn the_statement_download_declares_text_csv_and_metrics_text_plain() {
    let statement = &document()["paths"]["/api/statements/{id}/"]["get"]["responses"]["200"];
    assert!(
        statement.pointer("/content/text~1csv/schema").is_some(),
        "{statement}"
    );
    assert!(
        statement
            .pointer("/content/application~1json/schema")
            .is_some()
    );
    let metrics = &document()["paths"]["/metrics"]["get"]["responses"]["200"];
    assert!(
        metrics.pointer("/content/text~1plain/schema").is_some(),
        "{metrics}"
    );
}

#[test]
fn query_and_header_parameters_are_declared_with_their_types() {
    for operation in OPERATIONS {
        for (name, _) in operation.query {
            assert!(
                query_schema(name).is_some(),
                "{} {}: give the query parameter {name} a type in src/http/schema/parameters.rs",
                operation.method,
                operation.path
            );
        }
    }
    let parameter = |method: &str, path: &str, name: &str| {
        document()["paths"][path][method]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
            .clone()
    };
    assert_eq!(
        parameter("get", "/api/accounts/", "page")["schema"]["type"],
        "integer"
    );
    assert_eq!(
        parameter("get", "/api/accounts/", "page_size")["schema"]["maximum"],
        100
    );
    assert_eq!(
        parameter("get", "/api/transactions/", "account")["schema"]["type"],
        "integer"
    );
    assert_eq!(
        parameter("get", "/api/transactions/", "date_from")["schema"]["format"],
        "date"
    );
    let kinds = parameter("get", "/api/transactions/", "transaction_type");
    assert_eq!(kinds["schema"]["enum"].as_array().map(Vec::len), Some(4));
    assert_eq!(
        parameter("get", "/api/statements/{id}/", "format")["schema"]["enum"][1],
        "csv"
    );
    for movement in ["deposit", "withdraw", "transfer"] {
        let path = format!("/api/accounts/{{id}}/{movement}/");
        let key = parameter("post", &path, "Idempotency-Key");
        assert_eq!(key["in"], "header");
        assert_eq!(key["schema"]["maxLength"], 255);
    }
}

#[test]
fn every_error_an_operations_shape_implies_is_declared() {
    for operation in OPERATIONS {
        let statuses = error_statuses(operation);
        let has = |status: u16| statuses.contains(&status);
        let name = format!("{} {}", operation.method, operation.path);
        if operation.body.is_some() {
            assert!(has(400) && has(413) && has(415), "{name}: {statuses:?}");
        }
        if operation.auth != bankd::http::schema::Auth::Public {
            assert!(has(401), "{name}");
        }
        if operation.auth == bankd::http::schema::Auth::Staff {
            assert!(has(403), "{name}");
        }
        if operation.path.contains("{id}") {
            assert!(has(404), "{name}");
        }
        if operation.method != "GET" && operation.path.starts_with("/api/") {
            assert!(has(503), "{name}: every write can find the writer busy");
        }
        let responses = &document()["paths"][operation.path][operation.method.to_ascii_lowercase()]
            ["responses"];
        for status in statuses {
            assert!(
                responses.get(status.to_string()).is_some(),
                "{name}: {status}"
            );
        }
    }
}
