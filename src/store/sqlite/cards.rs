//! Payment cards (contract §6). The full number and the CVV exist only in the `201` answer:
//! the database keeps an HMAC of each (keyed by `cards.hash_key`) and the last four digits.

use chrono::Datelike;
use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use sha2::Sha256;

use crate::config::Secret;
use crate::domain::AccountStatus;
use crate::domain::card::{CardNumber, CardStatus, CardType, masked};
use crate::domain::time::now_rfc3339;
use crate::error::{ApiError, ErrorCode};
use crate::store::sqlite::{accounts, customers, is_unique_violation};

/// A card as the API shows it (never the full number or CVV).
#[derive(Clone, Debug, Serialize)]
pub struct Card {
    pub id: i64,
    pub account: i64,
    pub card_type: String,
    pub masked_number: String,
    pub expiry_month: u32,
    pub expiry_year: i32,
    pub status: String,
    #[serde(serialize_with = "crate::store::sqlite::serialize_optional_cents")]
    pub credit_limit: Option<i64>,
    pub created_at: String,
}

impl Card {
    pub fn status(&self) -> CardStatus {
        CardStatus::parse(&self.status).unwrap_or(CardStatus::Cancelled)
    }
}

/// A card just issued, with the secrets shown once.
pub struct IssuedCard {
    pub card: Card,
    pub number: CardNumber,
    pub cvv: String,
}

/// The card rules from configuration.
#[derive(Clone, Copy, Debug)]
pub struct CardRules<'a> {
    pub iin_prefix: &'a str,
    pub validity_years: u32,
    pub max_per_account: u32,
}

const SELECT_CARD: &str =
    "SELECT id, account_id, card_type, last4, expiry_month, expiry_year, status,
        credit_limit_cents, created_at FROM cards";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Card> {
    let last4: String = row.get(3)?;
    Ok(Card {
        id: row.get(0)?,
        account: row.get(1)?,
        card_type: row.get(2)?,
        masked_number: masked(&last4),
        expiry_month: row.get(4)?,
        expiry_year: row.get(5)?,
        status: row.get(6)?,
        credit_limit: row.get(7)?,
        created_at: row.get(8)?,
    })
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

/// Issues a card on one of the user's active accounts.
pub fn issue(
    conn: &Connection,
    user_id: i64,
    account_id: i64,
    card_type: CardType,
    credit_limit_cents: Option<i64>,
    key: &Secret,
    rules: CardRules<'_>,
) -> Result<IssuedCard, ApiError> {
    let account = accounts::find_by_id_and_owner(conn, account_id, user_id).map_err(|_| {
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
        let number = CardNumber::from_parts(rules.iin_prefix, &random_digits(9)?)
            .ok_or_else(|| ApiError::internal("card prefix is not six digits"))?;
        let cvv = random_digits(3)?;
        let number_hmac = keyed_hash(key, &["number", number.as_str()])?;
        let cvv_hmac = keyed_hash(key, &["cvv", number.as_str(), &cvv])?;
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
                credit_limit_cents,
                now
            ]);
        match inserted {
            Ok(id) => {
                let card = find_by_id_and_owner(conn, id, user_id)?;
                return Ok(IssuedCard { card, number, cvv });
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
pub fn find_by_id_and_owner(conn: &Connection, id: i64, user_id: i64) -> Result<Card, ApiError> {
    let customer_id = customers::id_for_user(conn, user_id)?.ok_or_else(ApiError::not_found)?;
    conn.prepare_cached(&format!("{SELECT_CARD} WHERE id = ?1 AND customer_id = ?2"))?
        .query_row([id, customer_id], from_row)
        .optional()?
        .ok_or_else(ApiError::not_found)
}

/// A page of the user's cards, oldest first.
pub fn list_for_user(
    conn: &Connection,
    user_id: i64,
    limit: u32,
    offset: u64,
) -> Result<(u64, Vec<Card>), ApiError> {
    let Some(customer_id) = customers::id_for_user(conn, user_id)? else {
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

/// Changes status (active ⇄ frozen, or → cancelled) and/or the credit limit of a card.
pub fn update(
    conn: &Connection,
    id: i64,
    user_id: i64,
    status: Option<CardStatus>,
    credit_limit_cents: Option<i64>,
) -> Result<Card, ApiError> {
    let card = find_by_id_and_owner(conn, id, user_id)?;
    if card.status() == CardStatus::Cancelled {
        return Err(ApiError::rule(
            ErrorCode::CardCancelled,
            "Card is cancelled and cannot be changed.",
        ));
    }
    if credit_limit_cents.is_some() && card.card_type != CardType::Credit.as_str() {
        return Err(ApiError::field(
            "credit_limit",
            "Debit cards cannot have a credit limit.",
        ));
    }
    let next = status.unwrap_or(card.status());
    debug_assert!(card.status().can_become(next));
    conn.prepare_cached(
        "UPDATE cards SET status = ?1, credit_limit_cents = coalesce(?2, credit_limit_cents), updated_at = ?3
         WHERE id = ?4",
    )?
    .execute(params![next.as_str(), credit_limit_cents, now_rfc3339(), id])?;
    find_by_id_and_owner(conn, id, user_id)
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
