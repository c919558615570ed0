//! The ledger over an in-memory database with every migration applied: each refusal comes back
//! typed and changes nothing; each movement posts the right rows and balances; money is
//! conserved over a long sequence; the writer job replays keys and audits the typed result.

use rusqlite::Connection;

use super::*;
use crate::domain::Amount;
use crate::error::ErrorCode;
use crate::store::audit::AuditContext;
use crate::store::movements::{Answer, Idempotency};

/// The database, one owner (user 1) with accounts 1..=3 and another owner (user 2) with account
/// 4. Account 1 holds 100.00, 2 holds 20.00, 3 is frozen with 5.00, 4 holds 0.00.
fn ledger() -> Connection {
    let mut conn = Connection::open_in_memory().expect("in-memory database");
    crate::store::sqlite::migrate::run(&mut conn).expect("migrations");
    conn.execute_batch(
        "INSERT INTO users (id, username, email, password_hash, date_joined)
             VALUES (1, 'owner', '', 'x', 't'), (2, 'other', '', 'x', 't');
         INSERT INTO customers (id, user_id, full_name, email, created_at, updated_at)
             VALUES (1, 1, 'Owner', '', 't', 't'), (2, 2, 'Other', '', 't', 't');
         INSERT INTO accounts (id, account_number, customer_id, balance_cents, status, created_at, updated_at)
             VALUES (1, 'ACC-000000001', 1, 10000, 'active', 't', 't'),
                    (2, 'ACC-000000002', 1, 2000, 'active', 't', 't'),
                    (3, 'ACC-000000003', 1, 500, 'frozen', 't', 't'),
                    (4, 'ACC-000000004', 2, 0, 'active', 't', 't');",
    )
    .expect("fixtures");
    conn
}

/// A test rendering: the status the contract uses, a code for detail-shaped refusals.
fn render(result: &Result<Posted, Refusal>) -> Result<Answer, ApiError> {
    Ok(match result {
        Ok(posted) => Answer {
            status: 200,
            code: None,
            body: format!("{posted:?}"),
        },
        Err(refusal @ (Refusal::DestinationNotFound | Refusal::SameAccount)) => Answer {
            status: 400,
            code: None,
            body: format!("{refusal:?}"),
        },
        Err(refusal) => Answer {
            status: 400,
            code: Some(ErrorCode::InsufficientFunds),
            body: format!("{refusal:?}"),
        },
    })
}

fn command(user: i64, account: i64, kind: MovementKind, cents: i64) -> MovementCommand {
    MovementCommand {
        user: UserId::new(user),
        account: AccountId::new(account),
        kind,
        amount: Amount::from_cents(cents).expect("a valid amount"),
        description: "test".to_owned(),
        idempotency: None,
        audit: AuditContext::default(),
        render,
    }
}

fn transfer_to(number: &str) -> MovementKind {
    MovementKind::Transfer {
        destination: AccountNumber::parse(number).expect("an account number"),
    }
}

/// Everything a movement may change: balances and posting counts, ledger rows, transfers.
fn snapshot(conn: &Connection) -> (Vec<(i64, i64, i64)>, i64, i64) {
    let accounts = conn
        .prepare("SELECT id, balance_cents, transaction_count FROM accounts ORDER BY id")
        .expect("prepare")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let count = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .expect("count")
    };
    (accounts, count("transactions"), count("transfers"))
}

fn balance_of(conn: &Connection, account: i64) -> i64 {
    conn.query_row(
        "SELECT balance_cents FROM accounts WHERE id = ?1",
        [account],
        |row| row.get(0),
    )
    .expect("balance")
}

fn set_status(conn: &Connection, account: i64, status: &str) {
    conn.execute(
        "UPDATE accounts SET status = ?1 WHERE id = ?2",
        params![status, account],
    )
    .expect("status");
}

#[test]
fn every_refusal_is_returned_typed_and_changes_nothing() {
    let conn = ledger();
    let max = crate::limits::BALANCE_CENTS_MAX;
    conn.execute(
        "INSERT INTO accounts (id, account_number, customer_id, balance_cents, created_at, updated_at)
         VALUES (5, 'ACC-000000005', 2, ?1, 't', 't'), (6, 'ACC-000000006', 1, ?1, 't', 't'),
                (7, 'ACC-000000007', 2, 0, 't', 't')",
        [max],
    )
    .expect("full accounts");
    set_status(&conn, 7, "closed");
    let cases = [
        (
            command(1, 4, MovementKind::Deposit, 100),
            Refusal::AccountNotFound,
        ),
        (
            command(1, 99, MovementKind::Withdrawal, 100),
            Refusal::AccountNotFound,
        ),
        (
            command(1, 3, MovementKind::Deposit, 100),
            Refusal::AccountFrozen,
        ),
        (
            command(1, 3, transfer_to("ACC-000000001"), 100),
            Refusal::AccountFrozen,
        ),
        (
            command(2, 7, MovementKind::Deposit, 100),
            Refusal::AccountClosed,
        ),
        (
            command(1, 1, MovementKind::Withdrawal, 10_001),
            Refusal::InsufficientFunds,
        ),
        (
            command(1, 1, transfer_to("ACC-000000002"), 10_001),
            Refusal::InsufficientFunds,
        ),
        (
            command(1, 6, MovementKind::Deposit, 1),
            Refusal::BalanceLimitExceeded,
        ),
        (
            command(1, 1, transfer_to("ACC-000000005"), 1),
            Refusal::BalanceLimitExceeded,
        ),
        (
            command(1, 1, transfer_to("ACC-999999999"), 1),
            Refusal::DestinationNotFound,
        ),
        (
            command(1, 1, transfer_to("ACC-000000001"), 1),
            Refusal::SameAccount,
        ),
        (
            command(1, 1, transfer_to("ACC-000000003"), 1),
            Refusal::DestinationFrozen,
        ),
        (
            command(1, 1, transfer_to("ACC-000000007"), 1),
            Refusal::DestinationClosed,
        ),
    ];
    for (command, refusal) in cases {
        let before = snapshot(&conn);

        let result = post(&conn, &command).expect("no database fault");

        assert_eq!(result, Err(refusal), "{command:?}");
        assert_eq!(snapshot(&conn), before, "{command:?} changed something");
    }
}

#[test]
fn an_account_of_a_deleted_profile_is_not_found() {
    let conn = ledger();
    conn.execute("UPDATE customers SET deleted_at = 't' WHERE id = 1", [])
        .expect("delete profile");

    let result = post(&conn, &command(1, 1, MovementKind::Deposit, 100));

    assert_eq!(result.expect("no fault"), Err(Refusal::AccountNotFound));
}

#[test]
fn a_deposit_and_a_withdrawal_post_one_row_each_with_the_balance_after() {
    let conn = ledger();

    let deposit = post(&conn, &command(1, 1, MovementKind::Deposit, 2_550)).expect("no fault");
    let withdrawal =
        post(&conn, &command(1, 1, MovementKind::Withdrawal, 12_550)).expect("no fault");

    let balance = |cents| Balance::from_cents(cents).expect("balance");
    let Ok(Posted::Deposit {
        transaction,
        new_balance,
    }) = deposit
    else {
        panic!("deposit refused: {deposit:?}");
    };
    assert_eq!(new_balance, balance(12_550));
    let Ok(Posted::Withdrawal {
        transaction: second,
        new_balance,
    }) = withdrawal
    else {
        panic!("withdrawal refused: {withdrawal:?}");
    };
    assert_eq!(new_balance, Balance::ZERO);
    assert_eq!(second.get(), transaction.get() + 1);
    let rows: Vec<(i64, String, i64, i64, String)> = conn
        .prepare(
            "SELECT account_id, transaction_type, amount_cents, balance_after_cents, description
             FROM transactions ORDER BY id",
        )
        .expect("prepare")
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        rows,
        [
            (1, "deposit".to_owned(), 2_550, 12_550, "test".to_owned()),
            (1, "withdrawal".to_owned(), 12_550, 0, "test".to_owned()),
        ]
    );
    assert_eq!(snapshot(&conn).0[0], (1, 0, 2));
}

#[test]
fn a_transfer_posts_two_legs_that_sum_to_zero_and_share_its_id() {
    let conn = ledger();

    let result =
        post(&conn, &command(1, 1, transfer_to("ACC-000000004"), 4_000)).expect("no fault");

    let Ok(Posted::Transfer {
        transfer,
        source_balance,
    }) = result
    else {
        panic!("transfer refused: {result:?}");
    };
    assert_eq!(source_balance.cents(), 6_000);
    assert_eq!(balance_of(&conn, 4), 4_000);
    let legs: Vec<(i64, String, i64, i64, String, i64)> = conn
        .prepare(
            "SELECT account_id, transaction_type, amount_cents, balance_after_cents,
                 counterparty_account_number, transfer_id
             FROM transactions ORDER BY id",
        )
        .expect("prepare")
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let id = transfer.get();
    assert_eq!(
        legs,
        [
            (
                1,
                "transfer_out".to_owned(),
                4_000,
                6_000,
                "ACC-000000004".to_owned(),
                id
            ),
            (
                4,
                "transfer_in".to_owned(),
                4_000,
                4_000,
                "ACC-000000001".to_owned(),
                id
            ),
        ]
    );
    let (source, destination, amount): (i64, i64, i64) = conn
        .query_row(
            "SELECT source_account_id, destination_account_id, amount_cents FROM transfers WHERE id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .expect("transfer row");
    assert_eq!((source, destination, amount), (1, 4, 4_000));
}

#[test]
fn money_is_conserved_over_a_long_sequence_of_movements() {
    let conn = ledger();
    set_status(&conn, 3, "active");
    let total = |conn: &Connection| -> i64 {
        conn.query_row("SELECT sum(balance_cents) FROM accounts", [], |row| {
            row.get(0)
        })
        .expect("total")
    };
    let mut expected_total = total(&conn);
    let owners = [1, 1, 1, 2];
    // A fixed linear congruential sequence: reproducible, no dependency.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |bound: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) % bound
    };
    for _ in 0..2_000 {
        let account = next(4) as i64 + 1;
        let user = owners[account as usize - 1];
        let cents = next(5_000) as i64 + 1;
        let kind = match next(4) {
            0 => MovementKind::Deposit,
            1 => MovementKind::Withdrawal,
            _ => transfer_to(&format!("ACC-00000000{}", next(4) + 1)),
        };
        let is_deposit = kind == MovementKind::Deposit;
        let is_withdrawal = kind == MovementKind::Withdrawal;
        let result = post(&conn, &command(user, account, kind, cents)).expect("no fault");
        match result {
            Ok(_) if is_deposit => expected_total += cents,
            Ok(_) if is_withdrawal => expected_total -= cents,
            _ => {}
        }
        assert_eq!(total(&conn), expected_total);
    }
    // Every balance is its history: the signed sum of its legs on top of its opening balance,
    // and the last leg's balance_after.
    for (account, opening) in [(1, 10_000), (2, 2_000), (3, 500), (4, 0)] {
        let (signed, last, count): (i64, Option<i64>, i64) = conn
            .query_row(
                "SELECT coalesce(sum(CASE WHEN transaction_type IN ('deposit', 'transfer_in')
                     THEN amount_cents ELSE -amount_cents END), 0),
                     (SELECT balance_after_cents FROM transactions WHERE account_id = ?1
                      ORDER BY id DESC LIMIT 1),
                     count(*)
                 FROM transactions WHERE account_id = ?1",
                [account],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .expect("history");
        let balance = balance_of(&conn, account);
        assert_eq!(balance, opening + signed, "account {account}");
        assert_eq!(last.unwrap_or(opening), balance, "account {account}");
        let postings: i64 = conn
            .query_row(
                "SELECT transaction_count FROM accounts WHERE id = ?1",
                [account],
                |row| row.get(0),
            )
            .expect("count");
        assert_eq!(postings, count, "account {account}");
    }
    let (legs_out, legs_in): (i64, i64) = conn
        .query_row(
            "SELECT coalesce(sum(CASE WHEN transaction_type = 'transfer_out' THEN amount_cents END), 0),
                    coalesce(sum(CASE WHEN transaction_type = 'transfer_in' THEN amount_cents END), 0)
             FROM transactions",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("legs");
    assert_eq!(legs_out, legs_in);
}

#[test]
#[should_panic(expected = "changed behind the ledger's back")]
fn a_balance_that_changed_since_it_was_read_is_never_overwritten() {
    let conn = ledger();
    let stale = find_owned(&conn, AccountId::new(1), UserId::new(1))
        .expect("read")
        .expect("account");
    conn.execute("UPDATE accounts SET balance_cents = 1 WHERE id = 1", [])
        .expect("change behind the ledger's back");

    let _ = set_balance(&conn, &stale, Balance::ZERO, "t");
}

/// The audit row's details of the newest row, as stored (JSON text).
fn last_audit(conn: &Connection) -> (String, String) {
    conn.query_row(
        "SELECT outcome, details FROM audit_log ORDER BY id DESC LIMIT 1",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .expect("audit row")
}

#[test]
fn the_job_audits_the_typed_result_with_the_details_of_every_earlier_row() {
    let conn = ledger();
    // The exact texts the handler wrote before typed refusals (json! with preserve_order).
    let cases = [
        (
            command(1, 1, MovementKind::Deposit, 150),
            "success",
            r#"{"amount":"1.50","status":200,"transaction_id":1}"#,
        ),
        (
            command(1, 1, transfer_to("ACC-000000002"), 250),
            "success",
            r#"{"amount":"2.50","status":200,"to_account_number":"ACC-000000002","transfer_id":1}"#,
        ),
        (
            command(1, 2, MovementKind::Withdrawal, 999_999),
            "failure",
            r#"{"amount":"9999.99","status":400,"code":"insufficient_funds"}"#,
        ),
        (
            command(1, 1, transfer_to("ACC-000000001"), 100),
            "failure",
            r#"{"amount":"1.00","status":400,"to_account_number":"ACC-000000001"}"#,
        ),
    ];
    for (command, outcome, details) in cases {
        let answer = execute(&conn, &command).expect("no fault");

        assert!(matches!(answer, MovementAnswer::Fresh { .. }), "{answer:?}");
        assert_eq!(last_audit(&conn), (outcome.to_owned(), details.to_owned()));
    }
}

#[test]
fn a_key_replays_its_stored_answer_and_refuses_another_request() {
    let conn = ledger();
    let keyed = |cents, fingerprint| MovementCommand {
        idempotency: Some(Idempotency {
            key: "k".to_owned(),
            fingerprint,
        }),
        ..command(1, 1, MovementKind::Withdrawal, cents)
    };

    let first = execute(&conn, &keyed(100, [1; 32])).expect("no fault");
    let after_first = snapshot(&conn);
    let replay = execute(&conn, &keyed(100, [1; 32])).expect("no fault");
    let reused = execute(&conn, &keyed(200, [2; 32])).expect("no fault");

    let MovementAnswer::Fresh { answer, .. } = first else {
        panic!("first run: {first:?}");
    };
    let MovementAnswer::Replayed { status, body } = replay else {
        panic!("replay: {replay:?}");
    };
    assert_eq!((status, body), (answer.status, answer.body));
    assert!(matches!(reused, MovementAnswer::KeyReused), "{reused:?}");
    assert_eq!(snapshot(&conn), after_first);
}
