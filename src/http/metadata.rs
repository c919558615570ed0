//! `OPTIONS` on an `/api/` route: DRF's `SimpleMetadata` answer (name, description, renders,
//! parses and, for `POST`/`PUT`, the fields a client may send).
//!
//! It is derived from the operation table and the component schemas of `/api/schema/`, so the
//! fields it describes are the ones the schema documents and cannot drift from them.
//!
//! Access follows DRF: `APIView.initial()` checks the view's permissions for every method,
//! `OPTIONS` included, so an anonymous `OPTIONS` on an authenticated route is `401` and a
//! customer's on a staff route is `403`. `actions` holds `PUT` only when the caller could `PUT`
//! that object (DRF calls `get_object()`, and drops the action on `404`).
//!
//! A CORS preflight (`Origin` with `Access-Control-Request-Method`) never gets here: the CORS
//! layer answers it (see `app.rs`).

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, extract::FromRequestParts};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ErrorCode};
use crate::http::extract::{AuthUser, StaffUser, parse_positive_id};
use crate::http::schema::{self, Auth, OPERATIONS, Operation};
use crate::state::AppState;
use crate::store::ids::{AccountId, CustomerId};

const RENDERS: [&str; 2] = ["application/json", "text/html"];
const PARSES: [&str; 3] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

/// Answers `OPTIONS` for documented `/api/` routes; everything else passes through.
pub async fn answer_options(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::OPTIONS || !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let Some((template, id)) =
        match_route(request.uri().path()).map(|(template, id)| (template, id.map(str::to_owned)))
    else {
        return next.run(request).await;
    };
    let (mut parts, _body) = request.into_parts();
    match describe(&state, &mut parts, template, id.as_deref()).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// The documented path template (`/api/accounts/{id}/`) that `path` names, and its id.
/// Paths arrive with the trailing slash trimmed.
fn match_route(path: &str) -> Option<(&'static str, Option<&str>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    OPERATIONS.iter().find_map(|operation| {
        let template: Vec<&str> = operation.path.trim_matches('/').split('/').collect();
        if template.len() != segments.len() {
            return None;
        }
        let mut id = None;
        for (expected, given) in template.iter().zip(&segments) {
            if *expected == "{id}" {
                id = Some(*given);
            } else if expected != given {
                return None;
            }
        }
        Some((operation.path, id))
    })
}

async fn describe(
    state: &AppState,
    parts: &mut Parts,
    template: &'static str,
    id: Option<&str>,
) -> Result<Response, ApiError> {
    let operations: Vec<&Operation> = OPERATIONS
        .iter()
        .filter(|operation| operation.path == template)
        .collect();
    let id = match id {
        Some(text) => Some(parse_positive_id(text).ok_or_else(ApiError::not_found)?),
        None => None,
    };
    if crate::http::explorer::format_parameter(parts.uri.query())
        .is_some_and(|format| !matches!(format.as_str(), "" | "json" | "api"))
    {
        return Err(ApiError::not_found());
    }
    // Every operation of one path has the same audience; the strictest one decides.
    let user = if operations.iter().any(|o| o.auth == Auth::Staff) {
        Some(StaffUser::from_request_parts(parts, state).await?.0)
    } else if operations.iter().any(|o| o.auth == Auth::User) {
        Some(AuthUser::from_request_parts(parts, state).await?)
    } else {
        None
    };

    let mut actions = Map::new();
    for operation in &operations {
        let (Some(body), "POST" | "PUT") = (operation.body, operation.method) else {
            continue;
        };
        if operation.method == "PUT" && !may_put(state, template, id, user).await? {
            continue;
        }
        actions.insert(
            operation.method.to_owned(),
            fields(body, operation.success.1),
        );
    }
    let mut metadata = json!({
        "name": view_name(template, &operations),
        "description": operations.first().map_or("", |o| o.summary),
        "renders": RENDERS,
        "parses": PARSES,
    });
    if !actions.is_empty() {
        metadata["actions"] = Value::Object(actions);
    }
    let mut response = Json(metadata).into_response();
    if let Ok(allow) = HeaderValue::from_str(&allow(&operations)) {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(response)
}

/// DRF's `get_object()` for `PUT`: the object must be the caller's. A route whose `PUT` this
/// module does not know how to check is left out rather than described wrongly.
async fn may_put(
    state: &AppState,
    template: &str,
    id: Option<i64>,
    user: Option<AuthUser>,
) -> Result<bool, ApiError> {
    let (Some(id), Some(user)) = (id, user) else {
        return Ok(false);
    };
    let found = match template {
        "/api/accounts/{id}/" => state
            .store
            .find_account(user.user_id, AccountId::new(id))
            .await
            .map(|_| ()),
        "/api/customers/{id}/" => state
            .store
            .find_customer(user.user_id, CustomerId::new(id))
            .await
            .map(|_| ()),
        _ => return Ok(false),
    };
    match found {
        Ok(()) => Ok(true),
        Err(ApiError::Detail {
            code: ErrorCode::NotFound,
            ..
        }) => Ok(false),
        Err(error) => Err(error),
    }
}

/// The `Allow` header DRF sends: the route's methods, `HEAD` with `GET`, and `OPTIONS`.
fn allow(operations: &[&Operation]) -> String {
    let mut methods: Vec<&str> = Vec::new();
    for operation in operations {
        methods.push(operation.method);
        if operation.method == "GET" {
            methods.push("HEAD");
        }
    }
    methods.push("OPTIONS");
    methods.join(", ")
}

/// DRF's view names: "Account List" for a paginated collection, "Account Instance" for one
/// object, else the last path word in title case ("Deposit", "Get Token").
fn view_name(template: &str, operations: &[&Operation]) -> String {
    let words: Vec<&str> = template
        .trim_matches('/')
        .split('/')
        .filter(|word| *word != "{id}")
        .collect();
    let last = words.last().copied().unwrap_or_default();
    let singular = last.strip_suffix('s').unwrap_or(last);
    let paginated = operations
        .iter()
        .any(|operation| operation.query.iter().any(|(name, _)| *name == "page"));
    if template.ends_with("{id}/") {
        format!("{} Instance", title(singular))
    } else if paginated {
        format!("{} List", title(singular))
    } else {
        title(last)
    }
}

fn title(word: &str) -> String {
    word.split(['-', '_'])
        .map(capitalise)
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalise(word: &str) -> String {
    let mut characters = word.chars();
    characters.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(characters).collect()
    })
}

/// DRF's `get_serializer_info` for a request body schema: the writable fields with their
/// rules, then the fields of the success answer that the client cannot send, as read-only.
pub fn fields(body: &str, success: Option<&str>) -> Value {
    let document = schema::document();
    let mut info = Map::new();
    let (required, properties) = properties_of(document, body);
    for (name, property) in &properties {
        info.insert(
            name.clone(),
            field_info(name, property, required.contains(name)),
        );
    }
    if let Some(success) = success {
        for (name, property) in properties_of(document, success).1 {
            if info.contains_key(&name) {
                continue;
            }
            let mut read_only = json!({ "type": field_type(&property), "required": false, "read_only": true, "label": label(&name) });
            if let Some(help) = property.get("description") {
                read_only["help_text"] = help.clone();
            }
            info.insert(name, read_only);
        }
    }
    Value::Object(info)
}

/// A component's required names and properties, through `$ref` and `allOf`.
fn properties_of(document: &Value, name: &str) -> (Vec<String>, Vec<(String, Value)>) {
    let mut required = Vec::new();
    let mut properties = Vec::new();
    collect(
        document,
        &document["components"]["schemas"][name],
        &mut required,
        &mut properties,
        0,
    );
    (required, properties)
}

fn collect(
    document: &Value,
    schema: &Value,
    required: &mut Vec<String>,
    properties: &mut Vec<(String, Value)>,
    depth: u8,
) {
    // The component schemas nest at most two deep; the bound only guards against a cycle.
    if depth > 4 {
        return;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &document["components"]["schemas"][name];
        return collect(document, target, required, properties, depth + 1);
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        collect(document, part, required, properties, depth + 1);
    }
    for name in schema["required"].as_array().into_iter().flatten() {
        required.extend(name.as_str().map(str::to_owned));
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        properties.push((name.clone(), property.clone()));
    }
}

fn field_info(name: &str, property: &Value, required: bool) -> Value {
    let mut info = json!({
        "type": field_type(property),
        "required": required,
        "read_only": false,
        "label": label(name),
    });
    let number_rules = property["oneOf"]
        .as_array()
        .and_then(|branches| branches.iter().find(|b| b["type"] == "number"))
        .unwrap_or(property);
    for (rule, key, source) in [
        ("description", "help_text", property),
        ("minLength", "min_length", property),
        ("maxLength", "max_length", property),
        ("minimum", "min_value", number_rules),
        ("maximum", "max_value", number_rules),
    ] {
        if let Some(value) = source.get(rule) {
            info[key] = value.clone();
        }
    }
    if let Some(choices) = property["enum"].as_array() {
        let choices: Vec<Value> = choices
            .iter()
            .filter_map(Value::as_str)
            .map(|choice| json!({ "value": choice, "display_name": label(choice) }))
            .collect();
        info["choices"] = Value::Array(choices);
    }
    info
}

/// DRF's field type names (`SimpleMetadata.label_lookup`).
fn field_type(property: &Value) -> &'static str {
    if property.get("oneOf").is_some() {
        return "decimal";
    }
    if property.get("enum").is_some() {
        return "choice";
    }
    match (property["type"].as_str(), property["format"].as_str()) {
        (_, Some("email")) => "email",
        (_, Some("date")) => "date",
        (_, Some("date-time")) => "datetime",
        (Some("integer"), _) => "integer",
        // Money travels as a two-decimal string: DRF's `DecimalField`.
        (Some("string"), _)
            if property["pattern"]
                .as_str()
                .is_some_and(|p| p.contains("\\.[0-9]")) =>
        {
            "decimal"
        }
        (Some("string"), _) => "string",
        (Some("array"), _) => "list",
        (Some("object"), _) => "nested object",
        _ => "field",
    }
}

/// DRF's default label: the field name with spaces, first letter capitalised.
fn label(name: &str) -> String {
    capitalise(&name.replace('_', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_api_path_is_matched_to_itself() {
        for operation in OPERATIONS.iter().filter(|o| o.path.starts_with("/api/")) {
            let path = operation.path.replace("{id}", "7");
            let (template, id) = match_route(path.trim_end_matches('/')).expect("matched");
            assert_eq!(template, operation.path);
            assert_eq!(id.is_some(), operation.path.contains("{id}"));
        }
        assert!(match_route("/api/nothing").is_none());
    }

    #[test]
    fn names_follow_drf() {
        let name = |path: &str| {
            let operations: Vec<&Operation> =
                OPERATIONS.iter().filter(|o| o.path == path).collect();
            view_name(path, &operations)
        };
        assert_eq!(name("/api/accounts/"), "Account List");
        assert_eq!(name("/api/accounts/{id}/"), "Account Instance");
        assert_eq!(name("/api/accounts/{id}/deposit/"), "Deposit");
        assert_eq!(name("/api/get-token/"), "Get Token");
    }
}
