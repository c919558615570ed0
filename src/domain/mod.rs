//! Pure domain types: no I/O, no SQL, no axum.
//!
//! Every value that crosses the HTTP edge becomes one of these types through its `parse`
//! function, which is its only door. Past the edge, code holds an `Amount` or a `Username`,
//! never a raw string or float, so the rules they carry cannot be forgotten.

pub mod account;
pub mod card;
pub mod money;
pub mod password;
pub mod profile;
pub mod time;

pub use account::{AccountNumber, AccountStatus, AccountType, TransactionType};
pub use money::{Amount, Balance};
