//! The component schemas: every request and response body the API uses.

use serde_json::{Value, json};

fn money(description: &str) -> Value {
    json!({ "type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$", "description": description, "example": "600.25" })
}

/// An amount in a request: a decimal string or a JSON number, > 0, at most 2 decimals.
fn amount_input() -> Value {
    json!({
        "oneOf": [
            { "type": "string", "pattern": "^[0-9]{1,10}(\\.[0-9]{1,2})?$" },
            { "type": "number", "minimum": 0.01, "maximum": 9999999999.99 }
        ],
        "description": "Exact decimal (a JSON number is read exactly, never as a float): > 0, at most 2 decimal places, at most 12 digits.",
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

fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
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

pub fn schemas() -> Value {
    let transaction_types = ["deposit", "withdrawal", "transfer_out", "transfer_in"];
    json!({
        "Error": object(&["detail", "code"], json!({
            "detail": { "type": "string" },
            "code": { "type": "string", "example": "insufficient_funds" }
        })),
        "FieldErrors": {
            "type": "object",
            "description": "DRF validation errors: each field (or non_field_errors) with its messages.",
            "additionalProperties": { "type": "array", "items": { "type": "string" } }
        },
        "Health": object(&["status"], json!({ "status": { "type": "string" } })),
        "Register": object(&["username", "password", "full_name", "email"], json!({
            "username": { "type": "string", "maxLength": 150, "pattern": "^[A-Za-z0-9@.+_-]+$" },
            "password": { "type": "string", "format": "password", "minLength": 8 },
            "password2": { "type": "string", "format": "password" },
            "full_name": { "type": "string", "maxLength": 200 },
            "email": { "type": "string", "format": "email" },
            "phone_number": { "type": "string", "maxLength": 32, "nullable": true },
            "date_of_birth": date(true),
            "gender": { "type": "string", "enum": ["M", "F", "O"], "nullable": true }
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
            "gender": { "type": "string", "enum": ["M", "F", "O"], "nullable": true },
            "created_at": time(), "updated_at": time()
        })),
        "CustomerInput": object(&["full_name", "email"], json!({
            "full_name": { "type": "string", "maxLength": 200 }, "email": { "type": "string", "format": "email" },
            "phone_number": { "type": "string", "maxLength": 32, "nullable": true }, "date_of_birth": date(true),
            "gender": { "type": "string", "enum": ["M", "F", "O"], "nullable": true }
        })),
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
            "transactions": { "allOf": [{ "$ref": "#/components/schemas/TransactionPage" }], "description": "Detail view only: one page (`?page=`, `?page_size=`) of the statement's transactions, oldest first; `count` is transaction_count." },
            "generated_at": time()
        })),
        "AuditRow": object(&["id", "created_at", "actor_user_id", "client_ip", "request_id", "action", "object_type", "object_id", "outcome", "details", "hash"], json!({
            "id": integer(false), "created_at": time(), "actor_user_id": integer(true), "client_ip": string(false),
            "request_id": string(false), "action": string(false), "object_type": string(true), "object_id": integer(true),
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
