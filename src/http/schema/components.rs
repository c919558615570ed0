//! The component schemas: every request and response body the API uses.

use serde_json::{Value, json};

fn money(description: &str) -> Value {
    json!({ "type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$", "description": description, "example": "600.25" })
}

/// An amount in a request. Declared as a decimal string, the form every client can send
/// exactly; a JSON number is also accepted (and read exactly), but declaring it would make
/// generators type the field as a float, which money never is.
fn amount_input() -> Value {
    json!({
        "type": "string",
        "pattern": "^[0-9]{1,10}(\\.[0-9]{1,2})?$",
        "description": "Exact decimal string: > 0, at most 2 decimal places, at most 12 digits. A JSON number is also accepted and read exactly, never as a float.",
        "example": "500.25"
    })
}

fn time() -> Value {
    json!({ "type": "string", "format": "date-time", "example": "2026-11-21T09:30:00.123456Z" })
}

fn date(nullable: bool) -> Value {
    json!({ "type": "string", "format": "date", "nullable": nullable, "example": "2026-01-31" })
}

fn string(nullable: bool) -> Value {
    json!({ "type": "string", "nullable": nullable })
}

fn integer(nullable: bool) -> Value {
    json!({ "type": "integer", "nullable": nullable })
}

fn choice(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

/// A nullable enum, in drf-spectacular's shape: `oneOf` the enum and `NullEnum` (whose only
/// value is `null`). OpenAPI 3.0 says `nullable` does not widen an `enum`, so `null` must be
/// listed; listing it inside the enum itself makes openapi-python-client emit three copies of
/// the enum class, while this shape gives `Gender | None`.
fn nullable_enum(name: &str) -> Value {
    json!({
        "nullable": true,
        "oneOf": [
            { "$ref": format!("#/components/schemas/{name}") },
            { "$ref": "#/components/schemas/NullEnum" }
        ]
    })
}

/// An object schema. `required` is left out when empty: OpenAPI 3.0 requires a non-empty
/// list when present.
fn object(required: &[&str], properties: Value) -> Value {
    if required.is_empty() {
        json!({ "type": "object", "properties": properties })
    } else {
        json!({ "type": "object", "required": required, "properties": properties })
    }
}

/// A page of `item` in DRF's envelope.
pub fn page_of(item: &str) -> Value {
    object(
        &["count", "next", "previous", "results"],
        json!({
            "count": { "type": "integer" },
            "next": { "type": "string", "nullable": true, "description": "Absolute URL of the next page, or null." },
            "previous": { "type": "string", "nullable": true },
            "results": { "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } }
        }),
    )
}

/// Every component schema, by name.
pub fn schemas() -> Value {
    // Two halves only because one `json!` this size passes the macro recursion limit.
    let Value::Object(mut all) = people() else {
        unreachable!("a json! object literal")
    };
    if let Value::Object(ledger) = ledger() {
        all.extend(ledger);
    }
    Value::Object(all)
}

/// Errors, credentials and customers.
fn people() -> Value {
    json!({
        "Error": {
            "type": "object",
            "description": "Every error that is not field validation. `code` is required, which is what tells it apart from FieldErrors.",
            "required": ["detail", "code"],
            "properties": {
                "detail": { "type": "string", "description": "For people; may change." },
                "code": { "type": "string", "description": "For programs: a stable snake_case code (docs/API.md lists them all).", "example": "insufficient_funds" }
            }
        },
        "FieldErrors": {
            "type": "object",
            "description": "DRF validation errors (400 only): each field (or non_field_errors) with its messages. Never has a string `code`.",
            "additionalProperties": { "type": "array", "items": { "type": "string" } }
        },
        "Gender": { "type": "string", "enum": ["M", "F", "O"], "description": "M, F or O (other)." },
        "NullEnum": { "enum": [null] },
        "OpenApiDocument": { "type": "object", "description": "An OpenAPI 3.0 document (this one)." },
        "Health": object(&["status"], json!({ "status": { "type": "string" } })),
        "Register": object(&["username", "password", "full_name", "email"], json!({
            "username": { "type": "string", "maxLength": 150, "pattern": "^[A-Za-z0-9@.+_-]+$" },
            "password": { "type": "string", "format": "password", "minLength": 8 },
            "password2": { "type": "string", "format": "password" },
            "full_name": { "type": "string", "maxLength": 200 },
            "email": { "type": "string", "format": "email" },
            "phone_number": { "type": "string", "maxLength": 32, "nullable": true },
            "date_of_birth": date(true),
            "gender": nullable_enum("Gender")
        })),
        "Registered": object(&["username", "email"], json!({ "username": string(false), "email": string(false) })),
        "Credentials": object(&["username", "password"], json!({ "username": string(false), "password": { "type": "string", "format": "password" } })),
        "Token": object(&["token"], json!({ "token": { "type": "string", "pattern": "^[0-9a-f]{40}$" } })),
        "JwtPair": object(&["access", "refresh"], json!({ "access": string(false), "refresh": string(false) })),
        "JwtRefresh": object(&["refresh"], json!({ "refresh": string(false) })),
        "JwtAccess": object(&["access"], json!({ "access": string(false) })),
        "Customer": object(&["id", "username", "full_name", "email", "phone_number", "date_of_birth", "gender", "created_at", "updated_at"], json!({
            "id": integer(false), "username": string(false), "full_name": string(false), "email": string(false),
            "phone_number": string(true), "date_of_birth": date(true),
            "gender": nullable_enum("Gender"),
            "created_at": time(), "updated_at": time()
        })),
        "CustomerInput": object(&["full_name", "email"], json!({
            "full_name": { "type": "string", "maxLength": 200 }, "email": { "type": "string", "format": "email" },
            "phone_number": { "type": "string", "maxLength": 32, "nullable": true }, "date_of_birth": date(true),
            "gender": nullable_enum("Gender")
        }))
    })
}

/// Accounts, money, cards, statements, audit and the pages of each.
fn ledger() -> Value {
    let transaction_types = ["deposit", "withdrawal", "transfer_out", "transfer_in"];
    json!({
        "Account": object(&["id", "account_number", "account_type", "nickname", "balance", "status", "customer", "created_at", "updated_at"], json!({
            "id": integer(false),
            "account_number": { "type": "string", "pattern": "^ACC-[0-9]{9}$" },
            "account_type": choice(&["checking", "savings", "business"]),
            "nickname": string(false),
            "balance": money("Read-only; changes only through deposit, withdraw and transfer."),
            "status": choice(&["active", "frozen", "closed"]),
            "customer": integer(false), "created_at": time(), "updated_at": time()
        })),
        "AccountInput": object(&[], json!({
            "account_type": choice(&["checking", "savings", "business"]),
            "nickname": { "type": "string", "maxLength": 100, "nullable": true }
        })),
        "Movement": object(&["amount"], json!({ "amount": amount_input(), "description": { "type": "string", "maxLength": 255 } })),
        "TransferInput": object(&["to_account_number", "amount"], json!({
            "to_account_number": { "type": "string", "pattern": "^ACC-[0-9]{9}$" },
            "amount": amount_input(), "description": { "type": "string", "maxLength": 255 }
        })),
        "Posting": object(&["status", "new_balance", "transaction_id"], json!({
            "status": choice(&["deposit successful", "withdrawal successful"]),
            "new_balance": money("The account's balance after the movement."),
            "transaction_id": integer(false)
        })),
        "TransferResult": object(&["status", "from_account_balance", "transfer_id"], json!({
            "status": choice(&["transfer successful"]),
            "from_account_balance": money("The source account's balance after the transfer."),
            "transfer_id": integer(false)
        })),
        "Transaction": object(&["id", "account", "account_number", "transaction_type", "amount", "balance_after", "counterparty_account_number", "transfer_id", "description", "created_at"], json!({
            "id": integer(false), "account": integer(false), "account_number": string(false),
            "transaction_type": choice(&transaction_types),
            "amount": money("Always positive; the type gives the direction."),
            "balance_after": money("The account's balance right after this posting."),
            "counterparty_account_number": string(true), "transfer_id": integer(true),
            "description": string(false), "created_at": time()
        })),
        "Card": object(&["id", "account", "card_type", "masked_number", "expiry_month", "expiry_year", "status", "credit_limit", "created_at"], json!({
            "id": integer(false), "account": integer(false), "card_type": choice(&["debit", "credit"]),
            "masked_number": { "type": "string", "pattern": "^\\*{4} \\*{4} \\*{4} [0-9]{4}$" },
            "expiry_month": { "type": "integer", "minimum": 1, "maximum": 12 }, "expiry_year": integer(false),
            "status": choice(&["active", "frozen", "cancelled"]),
            "credit_limit": { "type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$", "nullable": true },
            "created_at": time()
        })),
        "IssuedCard": {
            "allOf": [
                { "$ref": "#/components/schemas/Card" },
                object(&["card_number", "cvv"], json!({
                    "card_number": { "type": "string", "pattern": "^[0-9]{16}$", "description": "Shown only in this response." },
                    "cvv": { "type": "string", "pattern": "^[0-9]{3}$", "description": "Shown only in this response." }
                }))
            ]
        },
        "CardInput": object(&["account", "card_type"], json!({
            "account": integer(false), "card_type": choice(&["debit", "credit"]), "credit_limit": amount_input()
        })),
        "CardPatch": object(&[], json!({ "status": choice(&["active", "frozen"]), "credit_limit": amount_input() })),
        "StatementInput": object(&["start_date", "end_date"], json!({ "start_date": date(false), "end_date": date(false) })),
        "Statement": object(&["id", "account", "account_number", "start_date", "end_date", "opening_balance", "closing_balance", "total_deposits", "total_withdrawals", "transaction_count", "generated_at"], json!({
            "id": integer(false), "account": integer(false), "account_number": string(false),
            "start_date": date(false), "end_date": date(false),
            "opening_balance": money("Balance at the start of start_date (UTC)."),
            "closing_balance": money("Balance at the end of end_date (UTC)."),
            "total_deposits": money("Deposits and transfers in."),
            "total_withdrawals": money("Withdrawals and transfers out."),
            "transaction_count": integer(false),
            "transactions": { "type": "array", "items": { "$ref": "#/components/schemas/Transaction" }, "description": "Detail view only, oldest first." },
            "generated_at": time()
        })),
        "AuditRow": object(&["id", "created_at", "actor_user_id", "client_ip", "request_id", "client_request_id", "action", "object_type", "object_id", "outcome", "details", "hash"], json!({
            "id": integer(false), "created_at": time(), "actor_user_id": integer(true), "client_ip": string(false),
            "request_id": string(false), "client_request_id": string(true), "action": string(false), "object_type": string(true), "object_id": integer(true),
            "outcome": choice(&["success", "failure", "denied"]), "details": { "type": "object" },
            "hash": { "type": "string", "pattern": "^[0-9a-f]{64}$" }
        })),
        "CustomerPage": page_of("Customer"),
        "AccountPage": page_of("Account"),
        "TransactionPage": page_of("Transaction"),
        "CardPage": page_of("Card"),
        "StatementPage": page_of("Statement"),
        "AuditPage": page_of("AuditRow")
    })
}
