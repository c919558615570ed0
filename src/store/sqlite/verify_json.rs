//! `bankd verify --json`: the verify report as one JSON document, for monitoring scripts.
//!
//! The shape is a contract (documented in DEPLOYMENT.md, "`bankd verify`"): fields are only
//! ever added, never renamed or removed, and `format` changes if that promise is ever broken.
//! It is built from `verify::Report` alone, so a check added to `verify` appears here with no
//! change to this file:
//!
//! ```json
//! { "format": 1, "ok": true, "database": "/var/lib/bankd/bank.db",
//!   "counts": { "accounts": 1, "ledger_rows": 1, "transfers": 0 },
//!   "checks_total": 9, "checks_failed": 0, "elapsed_ms": 4,
//!   "checks": [ { "name": "SQLite integrity_check", "status": "ok", "details": "",
//!                 "problem_count": 0, "problems": [] } ] }
//! ```
//!
//! A database that could not be checked at all (missing, not a bankd database) is
//! `{ "format": 1, "ok": false, "database": ..., "error": "...", "checks": [] }`.

use std::path::Path;

use serde_json::{Value, json};

use crate::store::sqlite::verify::{Check, Report};

/// The version of the shape above.
pub const FORMAT: u32 = 1;

impl Report {
    /// The report as the JSON document described in the module comment.
    pub fn to_json(&self) -> Value {
        json!({
            "format": FORMAT,
            "ok": self.is_sound(),
            "database": self.database.display().to_string(),
            "counts": {
                "accounts": self.accounts,
                "ledger_rows": self.ledger_rows,
                "transfers": self.transfers,
            },
            "checks_total": self.checks.len(),
            "checks_failed": self.failed_count(),
            "elapsed_ms": u64::try_from(self.elapsed.as_millis()).unwrap_or(u64::MAX),
            "checks": self.checks.iter().map(Check::to_json).collect::<Vec<_>>(),
        })
    }
}

impl Check {
    /// One check: `status` is `"ok"` or `"failed"`; `details` is the note printed after an OK
    /// (the audit chain's head, say); `problems` holds at most `PROBLEMS_LISTED_MAX` lines and
    /// `problem_count` counts them all.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "status": if self.passed() { "ok" } else { "failed" },
            "details": self.note,
            "problem_count": self.problem_count,
            "problems": self.problems,
        })
    }
}

/// The document for a database that could not be checked at all.
pub fn error_json(database: &Path, error: &str) -> Value {
    json!({
        "format": FORMAT,
        "ok": false,
        "database": database.display().to_string(),
        "error": error,
        "checks": [],
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_failed_check_is_listed_with_its_status_problems_and_count() {
        let report = Report {
            database: PathBuf::from("bank.db"),
            accounts: 2,
            ledger_rows: 3,
            transfers: 1,
            checks: vec![
                Check {
                    name: "first",
                    problems: Vec::new(),
                    problem_count: 0,
                    note: "4 rows".to_owned(),
                },
                Check {
                    name: "second",
                    problems: vec!["account 1".to_owned()],
                    problem_count: 27,
                    note: String::new(),
                },
            ],
            elapsed: Duration::from_millis(1234),
        };

        let document = report.to_json();

        assert_eq!(document["ok"], false);
        assert_eq!(document["checks_failed"], 1);
        assert_eq!(document["checks_total"], 2);
        assert_eq!(document["elapsed_ms"], 1234);
        assert_eq!(document["counts"]["ledger_rows"], 3);
        assert_eq!(document["checks"][0]["status"], "ok");
        assert_eq!(document["checks"][0]["details"], "4 rows");
        assert_eq!(document["checks"][1]["status"], "failed");
        assert_eq!(document["checks"][1]["problem_count"], 27);
        assert_eq!(document["checks"][1]["problems"][0], "account 1");
    }
}
