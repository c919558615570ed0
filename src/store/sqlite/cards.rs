//! Payment cards (contract §6). The full number and the CVV exist only in the `201` answer:
//! the database keeps an HMAC of each (keyed by `cards.hash_key`) and the last four digits.

use chrono::Datelike;
use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::config::Secret;
use crate::domain::card::{CardNumber, CardStatus, CardType};
use crate::domain::time::now_rfc3339;
use crate::domain::{AccountStatus, Amount};
use crate::error::{ApiError, ErrorCode};
use crate::store::PageWindow;
use crate::store::cards::{Card, ChangeCard, Cvv, IssueCard, IssuedCard};
use crate::store::ids::{AuditId, CardId, UserId};
use crate::store::sqlite::audit::{self, AuditEvent, Outcome};
use crate::store::sqlite::{accounts, customers, decode, is_unique_violation};

const SELECT_CARD: &str =
    "SELECT id, account_id, card_type, last4, expiry_month, expiry_year, status,
        credit_limit_cents, created_at FROM cards";

/// Decodes a card row strictly: a type, status, last four digits, expiry month or credit limit
/// the domain does not accept is an error (the row is corrupt), never a plausible default.
fn from_row(row: &Row<'_>) -> rusqlite::Result<Card> {
    let expiry_month: u32 = row.get(4)?;
    if !(1..=12).contains(&expiry_month) {
        return Err(corrupt(4, format!("expiry month {expiry_month}")));
    }
    let credit_limit: Option<i64> = row.get(7)?;
    let credit_limit = match credit_limit {
        None => None,
        Some(cents) => Some(
            Amount::from_cents(cents)
                .ok_or_else(|| corrupt(7, format!("credit limit out of range: {cents}")))?,
        ),
    };
    Ok(Card {
        id: row.get(0)?,
        account: row.get(1)?,
        card_type: decode(row, 2, CardType::parse)?,
        last4: decode(row, 3, |text| {
            (text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.to_owned())
        })?,
        expiry_month,
        expiry_year: row.get(5)?,
        status: decode(row, 6, CardStatus::parse)?,
        credit_limit,
        created_at: row.get(8)?,
    })
}

fn corrupt(index: usize, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Integer, why.into())
}

/// HMAC-SHA256 of `parts` joined by `:` under the card key.
fn keyed_hash(key: &Secret, parts: &[&str]) -> Result<[u8; 32], ApiError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose())
        .map_err(|e| ApiError::internal(format!("hmac key: {e}")))?;
    mac.update(parts.join(":").as_bytes());
    Ok(mac.finalize().into_bytes().into())
}

fn random_digits(count: usize) -> Result<String, ApiError> {
    let mut digits = String::with_capacity(count);
    while digits.len() < count {
        let mut byte = [0u8; 1];
        getrandom::fill(&mut byte).map_err(|e| ApiError::internal(format!("OS random: {e}")))?;
        // Rejection sampling keeps every digit equally likely (250 = 25 × 10).
        if byte[0] < 250 {
            digits.push(char::from(b'0' + byte[0] % 10));
        }
    }
    Ok(digits)
}

/// Issues a card on one of the user's active accounts and records `card_issued` (with the
/// last four digits, never the number or CVV) in the same transaction.
pub fn issue(conn: &Connection, command: &IssueCard) -> Result<IssuedCard, ApiError> {
    let IssueCard {
        user,
        account: account_id,
        card_type,
        credit_limit,
        ref rules,
        ref hash_key,
        ref audit,
    } = *command;
    let account =
        accounts::find_by_id_and_owner(conn, account_id.get(), user.get()).map_err(|_| {
            ApiError::field(
                "account",
                format!("Invalid pk \"{account_id}\" - object does not exist."),
            )
        })?;
    match account.status {
        AccountStatus::Closed => return Err(accounts::account_closed()),
        AccountStatus::Frozen => return Err(accounts::account_frozen()),
        AccountStatus::Active => {}
    }
    let live_cards: u32 = conn
        .prepare_cached(
            "SELECT count(*) FROM cards WHERE account_id = ?1 AND status <> 'cancelled'",
        )?
        .query_row([account_id], |row| row.get(0))?;
    if live_cards >= rules.max_per_account {
        return Err(ApiError::rule(
            ErrorCode::CardLimitReached,
            format!(
                "An account may have at most {} cards that are not cancelled.",
                rules.max_per_account
            ),
        ));
    }
    let today = chrono::Utc::now().date_naive();
    let expiry_year = today.year() + i32::try_from(rules.validity_years).unwrap_or(4);
    let now = now_rfc3339();
    for _ in 0..crate::limits::ACCOUNT_NUMBER_ATTEMPTS_MAX {
        let number = CardNumber::from_parts(&rules.iin_prefix, &random_digits(9)?)
            .ok_or_else(|| ApiError::internal("card prefix is not six digits"))?;
        let cvv = random_digits(3)?;
        let number_hmac = keyed_hash(hash_key, &["number", number.as_str()])?;
        let cvv_hmac = keyed_hash(hash_key, &["cvv", number.as_str(), &cvv])?;
        let inserted = conn
            .prepare_cached(
                "INSERT INTO cards (account_id, customer_id, card_type, number_hmac, last4, cvv_hmac,
                     expiry_month, expiry_year, credit_limit_cents, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            )?
            .insert(params![
                account_id,
                account.customer,
                card_type.as_str(),
                number_hmac.as_slice(),
                number.last4(),
                cvv_hmac.as_slice(),
                today.month(),
                expiry_year,
                credit_limit.map(Amount::cents),
                now
            ]);
        match inserted {
            Ok(id) => {
                let card = find_by_id_and_owner(conn, CardId::new(id), user)?;
                let event = AuditEvent {
                    action: "card_issued",
                    object: Some(("card", id)),
                    outcome: Outcome::Success,
                    details: json!({ "account": account_id, "card_type": card_type.as_str(), "last4": number.last4() }),
                };
                let audit_id = AuditId::new(audit::record(conn, audit, &event)?);
                return Ok(IssuedCard {
                    card,
                    number,
                    cvv: Cvv::new(cvv),
                    audit_id,
                });
            }
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal(
        "no free card number after repeated draws",
    ))
}

/// One of the user's cards.
pub fn find_by_id_and_owner(conn: &Connection, id: CardId, user: UserId) -> Result<Card, ApiError> {
    let customer_id = customers::id_for_user(conn, user.get())?.ok_or_else(ApiError::not_found)?;
    conn.prepare_cached(&format!("{SELECT_CARD} WHERE id = ?1 AND customer_id = ?2"))?
        .query_row(params![id, customer_id], from_row)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

/// A page of the user's cards, oldest first.
pub fn list_for_user(
    conn: &Connection,
    user: UserId,
    PageWindow { limit, offset }: PageWindow,
) -> Result<(u64, Vec<Card>), ApiError> {
    let Some(customer_id) = customers::id_for_user(conn, user.get())? else {
        return Ok((0, Vec::new()));
    };
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM cards WHERE customer_id = ?1")?
        .query_row([customer_id], |row| row.get(0))?;
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let cards = conn
        .prepare_cached(&format!(
            "{SELECT_CARD} WHERE customer_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3"
        ))?
        .query_map(params![customer_id, limit, offset], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((count.unsigned_abs(), cards))
}

/// Changes status (active ⇄ frozen, or → cancelled) and/or the credit limit of a card, and
/// records `card_cancelled` or `card_updated` in the same transaction.
pub fn change(conn: &Connection, command: &ChangeCard) -> Result<(Card, AuditId), ApiError> {
    let ChangeCard {
        user,
        card: id,
        status,
        credit_limit,
        ref audit,
    } = *command;
    let card = find_by_id_and_owner(conn, id, user)?;
    if card.status == CardStatus::Cancelled {
        return Err(ApiError::rule(
            ErrorCode::CardCancelled,
            "Card is cancelled and cannot be changed.",
        ));
    }
    if credit_limit.is_some() && card.card_type != CardType::Credit {
        return Err(ApiError::field(
            "credit_limit",
            "Debit cards cannot have a credit limit.",
        ));
    }
    let next = status.unwrap_or(card.status);
    assert!(
        card.status.can_become(next),
        "a live card may take any status"
    );
    conn.prepare_cached(
        "UPDATE cards SET status = ?1, credit_limit_cents = coalesce(?2, credit_limit_cents), updated_at = ?3
         WHERE id = ?4",
    )?
    .execute(params![next.as_str(), credit_limit.map(Amount::cents), now_rfc3339(), id])?;
    let card = find_by_id_and_owner(conn, id, user)?;
    let action = if status == Some(CardStatus::Cancelled) {
        "card_cancelled"
    } else {
        "card_updated"
    };
    let mut details = json!({ "status": card.status.as_str() });
    if let Some(limit) = credit_limit {
        details["credit_limit"] = Value::from(limit.to_string());
    }
    let event = AuditEvent {
        action,
        object: Some(("card", id.get())),
        outcome: Outcome::Success,
        details,
    };
    let audit_id = AuditId::new(audit::record(conn, audit, &event)?);
    Ok((card, audit_id))
}

/// Cancels every card of an account (when the account is closed); returns how many.
pub fn cancel_for_account(
    conn: &Connection,
    account_id: i64,
    now: &str,
) -> Result<usize, ApiError> {
    Ok(conn
        .prepare_cached(
            "UPDATE cards SET status = 'cancelled', updated_at = ?1 WHERE account_id = ?2 AND status <> 'cancelled'",
        )?
        .execute(params![now, account_id])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes one row of literal values laid out as `SELECT_CARD`'s columns.
    fn decoded(columns: &str) -> rusqlite::Result<Card> {
        let conn = Connection::open_in_memory().expect("in-memory database");
        conn.query_row(&format!("SELECT {columns}"), [], from_row)
    }

    #[test]
    fn a_sound_card_row_decodes_to_typed_fields() {
        let card = decoded("7, 3, 'credit', '4242', 12, 2030, 'frozen', 150000, 't'")
            .expect("a sound row");
        assert_eq!(card.id, CardId::new(7));
        assert_eq!(card.card_type, CardType::Credit);
        assert_eq!(card.status, CardStatus::Frozen);
        assert_eq!(card.credit_limit.map(Amount::cents), Some(150_000));
        assert_eq!(card.last4, "4242");
    }

    #[test]
    fn a_corrupt_card_row_is_an_error_never_a_default() {
        for (what, columns) in [
            (
                "status",
                "1, 1, 'debit', '4242', 1, 2030, 'lost', NULL, 't'",
            ),
            (
                "type",
                "1, 1, 'prepaid', '4242', 1, 2030, 'active', NULL, 't'",
            ),
            (
                "last4",
                "1, 1, 'debit', '42x2', 1, 2030, 'active', NULL, 't'",
            ),
            (
                "month",
                "1, 1, 'debit', '4242', 13, 2030, 'active', NULL, 't'",
            ),
            ("limit", "1, 1, 'credit', '4242', 1, 2030, 'active', 0, 't'"),
        ] {
            assert!(decoded(columns).is_err(), "a bad {what} was accepted");
        }
    }
}
