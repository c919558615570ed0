//! Customer profiles. Every finder takes the owner's user id: another user's profile is
//! simply not found.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::domain::account::Gender;
use crate::domain::time::parse_date;
use crate::error::{ApiError, ErrorCode};
use crate::store::sqlite::decode_optional;

use crate::store::customers::{Customer, ProfileChanges};

const SELECT_CUSTOMER: &str = "SELECT c.id, u.username, c.full_name, c.email, c.phone_number,
        c.date_of_birth, c.gender, c.created_at, c.updated_at
    FROM customers c JOIN users u ON u.id = c.user_id";

/// Decodes a `SELECT_CUSTOMER` row strictly: a date of birth or gender the domain refuses is
/// an error (the row is corrupt), never a plausible default.
pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: row.get(0)?,
        username: row.get(1)?,
        full_name: row.get(2)?,
        email: row.get(3)?,
        phone_number: row.get(4)?,
        date_of_birth: decode_optional(row, 5, parse_date)?,
        gender: decode_optional(row, 6, Gender::parse)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

/// The user's live profile, if any.
pub fn find_for_user(conn: &Connection, user_id: i64) -> Result<Option<Customer>, ApiError> {
    Ok(conn
        .prepare_cached(&format!(
            "{SELECT_CUSTOMER} WHERE c.user_id = ?1 AND c.deleted_at IS NULL"
        ))?
        .query_row([user_id], from_row)
        .optional()?)
}

/// The profile `id` if it is the user's and live.
pub fn find_by_id_and_owner(
    conn: &Connection,
    id: i64,
    user_id: i64,
) -> Result<Customer, ApiError> {
    conn.prepare_cached(&format!(
        "{SELECT_CUSTOMER} WHERE c.id = ?1 AND c.user_id = ?2 AND c.deleted_at IS NULL"
    ))?
    .query_row([id, user_id], from_row)
    .optional()?
    .ok_or_else(ApiError::not_found)
}

/// The id of the user's live profile, if any.
pub fn id_for_user(conn: &Connection, user_id: i64) -> Result<Option<i64>, ApiError> {
    Ok(conn
        .prepare_cached("SELECT id FROM customers WHERE user_id = ?1 AND deleted_at IS NULL")?
        .query_row([user_id], |row| row.get(0))
        .optional()?)
}

pub const PROFILE_EXISTS: &str = "Customer profile already exists for this user.";

/// Creates the user's profile from a complete set of fields.
pub fn insert(
    conn: &Connection,
    user_id: i64,
    profile: &ProfileChanges,
    now: &str,
) -> Result<Customer, ApiError> {
    if id_for_user(conn, user_id)?.is_some() {
        return Err(ApiError::non_field(PROFILE_EXISTS));
    }
    let id = conn
        .prepare_cached(
            "INSERT INTO customers (user_id, full_name, email, phone_number, date_of_birth, gender, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        )?
        .insert(params![
            user_id,
            profile.full_name.as_deref().unwrap_or_default(),
            profile.email.as_deref().unwrap_or_default(),
            profile.phone_number.clone().flatten(),
            profile.date_of_birth.flatten().map(|d| d.to_string()),
            profile.gender.flatten().map(Gender::as_str),
            now
        ])?;
    find_by_id_and_owner(conn, id, user_id)
}

/// Applies the fields that were sent.
pub fn update(
    conn: &Connection,
    id: i64,
    user_id: i64,
    changes: &ProfileChanges,
    now: &str,
) -> Result<Customer, ApiError> {
    let current = find_by_id_and_owner(conn, id, user_id)?;
    let full_name = changes.full_name.clone().unwrap_or(current.full_name);
    let email = changes.email.clone().unwrap_or(current.email);
    let phone_number = changes.phone_number.clone().unwrap_or(current.phone_number);
    let date_of_birth = changes
        .date_of_birth
        .unwrap_or(current.date_of_birth)
        .map(|d| d.to_string());
    let gender = changes.gender.unwrap_or(current.gender).map(Gender::as_str);
    conn.prepare_cached(
        "UPDATE customers SET full_name = ?1, email = ?2, phone_number = ?3, date_of_birth = ?4,
             gender = ?5, updated_at = ?6 WHERE id = ?7",
    )?
    .execute(params![
        full_name,
        email,
        phone_number,
        date_of_birth,
        gender,
        now,
        id
    ])?;
    find_by_id_and_owner(conn, id, user_id)
}

/// Deletes the profile (kept for the bank's records, hidden from the user), refused while it
/// has open accounts.
pub fn delete(conn: &Connection, id: i64, user_id: i64, now: &str) -> Result<(), ApiError> {
    find_by_id_and_owner(conn, id, user_id)?;
    let open_accounts: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM accounts WHERE customer_id = ?1 AND status <> 'closed'",
        )?
        .query_row([id], |row| row.get(0))?;
    if open_accounts > 0 {
        return Err(ApiError::rule(
            ErrorCode::CustomerHasOpenAccounts,
            "Close every account before deleting the customer profile.",
        ));
    }
    conn.prepare_cached("UPDATE customers SET deleted_at = ?1, updated_at = ?1 WHERE id = ?2")?
        .execute(params![now, id])?;
    Ok(())
}

/// A migrated in-memory database holding one user (`1`, "alice") with a live profile (`1`) and
/// one empty active account (`1`), for the strict-decoding tests of the rows built on them.
/// CHECK constraints are switched off so that a test can write the corrupt row the schema
/// would refuse: the decoder is the second line of defence and must hold on its own.
#[cfg(test)]
pub(crate) fn corruptible_database() -> Connection {
    let mut conn = Connection::open_in_memory().expect("in-memory database");
    crate::store::sqlite::migrate::run(&mut conn).expect("migrations");
    conn.execute_batch(
        "PRAGMA ignore_check_constraints = ON;
         INSERT INTO users (id, username, email, password_hash, date_joined)
             VALUES (1, 'alice', 'alice@example.com', 'x', '2026-01-01T00:00:00Z');
         INSERT INTO customers (id, user_id, full_name, email, created_at, updated_at)
             VALUES (1, 1, 'Alice', 'alice@example.com', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
         INSERT INTO accounts (id, account_number, customer_id, created_at, updated_at)
             VALUES (1, 'ACC-000000001', 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');",
    )
    .expect("fixture rows");
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile_with(column: &str, value: &str) -> Result<Customer, ApiError> {
        let conn = corruptible_database();
        conn.execute(&format!("UPDATE customers SET {column} = ?1"), [value])
            .expect("corrupt the profile");
        find_by_id_and_owner(&conn, 1, 1)
    }

    #[test]
    fn a_valid_profile_decodes_with_its_typed_fields() {
        let customer = profile_with("gender", "F").expect("a valid row");
        assert_eq!(customer.gender, Some(Gender::Female));
        assert_eq!(customer.date_of_birth, None);
        let customer = profile_with("date_of_birth", "1990-02-28").expect("a valid row");
        assert_eq!(
            customer.date_of_birth.map(|d| d.to_string()).as_deref(),
            Some("1990-02-28")
        );
    }

    #[test]
    fn a_profile_with_an_unknown_gender_is_an_internal_error_not_a_default() {
        let error = profile_with("gender", "X").expect_err("a corrupt row");
        assert!(matches!(error, ApiError::Internal(_)), "{error:?}");
    }

    #[test]
    fn a_profile_with_an_impossible_date_of_birth_is_an_internal_error() {
        for date in ["1990-02-30", "yesterday", ""] {
            let error = profile_with("date_of_birth", date).expect_err("a corrupt row");
            assert!(matches!(error, ApiError::Internal(_)), "{date}: {error:?}");
        }
    }
}
