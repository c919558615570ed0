//! What every command that changes something says about itself for the audit log: who, from
//! where, what, and how it ended. Each backend writes the row, hash-chained, in the same
//! transaction as the change (SQLite), or queues it for the chain in that transaction
//! (PostgreSQL's `audit_pending`). What a row's hash covers is defined once, in `chain`.

use serde_json::Value;

pub mod chain;

/// Who did it and from where.
#[derive(Clone, Debug, Default)]
pub struct AuditContext {
    pub actor_user_id: Option<i64>,
    pub client_ip: String,
    /// The server's id of the request.
    pub request_id: String,
    /// The client's own `X-Request-Id`, if it sent one (recorded apart from the server's).
    pub client_request_id: Option<String>,
}

impl AuditContext {
    pub fn with_actor(&self, user_id: i64) -> Self {
        Self {
            actor_user_id: Some(user_id),
            ..self.clone()
        }
    }
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }
}

/// What happened.
pub struct AuditEvent<'a> {
    pub action: &'a str,
    pub object: Option<(&'a str, i64)>,
    pub outcome: Outcome,
    pub details: Value,
}
