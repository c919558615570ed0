//! The ONE rendering of movement results: byte-for-byte the bodies of before typed refusals.

use super::*;
use crate::domain::Balance;

fn balance(cents: i64) -> Balance {
    Balance::from_cents(cents).expect("a valid balance")
}

/// The bodies exactly as the handler wrote them before typed refusals (`json!` text).
#[test]
fn posted_movements_answer_the_contract_bodies_byte_for_byte() {
    let cases = [
        (
            Posted::Deposit {
                transaction: TransactionId::new(7),
                new_balance: balance(60025),
            },
            r#"{"status":"deposit successful","new_balance":"600.25","transaction_id":7}"#,
        ),
        (
            Posted::Withdrawal {
                transaction: TransactionId::new(8),
                new_balance: balance(0),
            },
            r#"{"status":"withdrawal successful","new_balance":"0.00","transaction_id":8}"#,
        ),
        (
            Posted::Transfer {
                transfer: TransferId::new(3),
                source_balance: balance(35025),
            },
            r#"{"status":"transfer successful","from_account_balance":"350.25","transfer_id":3}"#,
        ),
    ];
    for (posted, body) in cases {
        let answer = answer(&Ok(posted)).expect("rendered");
        assert_eq!(
            answer,
            Answer {
                status: 200,
                code: None,
                body: body.to_owned()
            }
        );
    }
}

#[test]
fn every_refusal_answers_its_contract_body_once() {
    use ErrorCode::*;
    let detail = |status, code, text: &str| {
        let body = serde_json::json!({ "detail": text, "code": code }).to_string();
        Answer {
            status,
            code: Some(code),
            body,
        }
    };
    let field = |text: &str| Answer {
        status: 400,
        code: None,
        body: serde_json::json!({ "to_account_number": [text] }).to_string(),
    };
    let cases = [
        (
            Refusal::AccountNotFound,
            detail(404, NotFound, "Not found."),
        ),
        (
            Refusal::AccountFrozen,
            detail(400, AccountFrozen, "Account is frozen."),
        ),
        (
            Refusal::AccountClosed,
            detail(400, AccountClosed, "Account is closed."),
        ),
        (
            Refusal::InsufficientFunds,
            detail(400, InsufficientFunds, "Insufficient funds."),
        ),
        (
            Refusal::BalanceLimitExceeded,
            detail(
                400,
                BalanceLimitExceeded,
                "This movement would take the balance past 9999999999999999.99.",
            ),
        ),
        (Refusal::DestinationNotFound, field("Account not found.")),
        (
            Refusal::SameAccount,
            field("Cannot transfer to the same account."),
        ),
        (
            Refusal::DestinationFrozen,
            detail(400, AccountFrozen, "Destination account is frozen."),
        ),
        (
            Refusal::DestinationClosed,
            detail(400, AccountClosed, "Destination account is closed."),
        ),
    ];
    for (refusal, expected) in cases {
        assert_eq!(
            answer(&Err(refusal)).expect("rendered"),
            expected,
            "{refusal:?}"
        );
    }
}
