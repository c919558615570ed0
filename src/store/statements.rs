//! Statements (contract §7): the statement row, its pinned slice of the ledger, and the `Store`
//! methods that generate, find and list statements and read their rows a page or a chunk at a
//! time.
//!
//! A statement's figures cover its whole period, but its rows are never all in memory: the JSON
//! detail reads one page (`statement_transactions`), the CSV download one chunk after a cursor
//! (`statement_rows_after`). Both read the same pinned slice ([`StatementRange`]), so a
//! statement's rows are the same forever, even when its range includes today.

use chrono::NaiveDate;

use crate::domain::{AccountNumber, Balance};
use crate::error::ApiError;
use crate::store::accounts::Account;
use crate::store::ids::{AccountId, StatementId, TransactionId, UserId};
use crate::store::transactions::Transaction;
use crate::store::{PageWindow, Store, sqlite};

/// A stored statement's figures, decoded strictly (a balance, date or total the domain refuses
/// is an internal error, never a default).
#[derive(Clone, Debug)]
pub struct Statement {
    pub id: StatementId,
    pub account: AccountId,
    pub account_number: AccountNumber,
    /// First day covered (UTC), inclusive.
    pub start_date: NaiveDate,
    /// Last day covered (UTC), inclusive.
    pub end_date: NaiveDate,
    pub opening_balance: Balance,
    pub closing_balance: Balance,
    /// Sum of the credits in the period, in cents (never negative).
    pub total_deposits_cents: i64,
    /// Sum of the debits in the period, in cents (never negative).
    pub total_withdrawals_cents: i64,
    pub transaction_count: u64,
    pub generated_at: String,
    /// The ledger's highest id when the statement was generated: its rows are those of its
    /// range up to this id, forever.
    pub last_transaction_id: TransactionId,
}

impl Statement {
    /// The slice of the ledger this statement's rows are read from.
    pub fn range(&self) -> StatementRange {
        StatementRange {
            account: self.account,
            account_number: self.account_number.clone(),
            start_date: self.start_date,
            end_date: self.end_date,
            last_transaction_id: self.last_transaction_id,
        }
    }
}

/// A statement's rows: one account, the days `start_date..=end_date`, ids up to the one pinned
/// at generation. What a page or chunk read needs of a statement, and nothing more.
#[derive(Clone, Debug)]
pub struct StatementRange {
    pub account: AccountId,
    /// Every row of the range shows it; it is known, so the rows are read without a join.
    pub account_number: AccountNumber,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub last_transaction_id: TransactionId,
}

/// Where a chunked read of a statement has got to: the (created_at, id) key of the last row
/// returned, which the next chunk starts after (one seek, however deep in the statement).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementCursor {
    pub created_at: String,
    pub id: TransactionId,
}

impl StatementCursor {
    /// The cursor just after `row`.
    pub fn after(row: &Transaction) -> Self {
        Self {
            created_at: row.created_at.clone(),
            id: row.id,
        }
    }
}

impl Store {
    /// Generates a statement of `account` (the caller's, already found; closed ones included)
    /// for the days `start..=end` and stores it.
    ///
    /// The figures are computed on a reader, in one snapshot pinned to the ledger's highest id,
    /// and the writer only inserts the finished row: a year of a busy account is never scanned
    /// while every other write waits (`sqlite::statements::draft` says why that is exact).
    pub async fn generate_statement(
        &self,
        account: Account,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Statement, ApiError> {
        match self {
            Self::Sqlite(db) => {
                let draft = db
                    .read(move |conn| sqlite::statements::draft(conn, account, start, end))
                    .await?;
                db.write(move |conn| sqlite::statements::store(conn, draft))
                    .await
            }
        }
    }

    /// One of `user`'s statements (its figures), else `404`. A by-key read.
    pub async fn find_statement(
        &self,
        user: UserId,
        id: StatementId,
    ) -> Result<Statement, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read_point(move |conn| sqlite::statements::find(conn, id, user))
                    .await
            }
        }
    }

    /// One page of `user`'s statements, newest first, optionally of one account (already
    /// checked to be theirs), and how many there are.
    pub async fn list_statements(
        &self,
        user: UserId,
        account: Option<AccountId>,
        window: PageWindow,
    ) -> Result<(u64, Vec<Statement>), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::statements::list_for_user(conn, user, account, window))
                    .await
            }
        }
    }

    /// One page of a statement's rows, oldest first (the JSON detail). The cost is bounded by
    /// the statement's own range, never by the account's history.
    pub async fn statement_transactions(
        &self,
        range: StatementRange,
        window: PageWindow,
    ) -> Result<Vec<Transaction>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::statements::page(conn, &range, window))
                    .await
            }
        }
    }

    /// Up to `limit` of a statement's rows after `after` (from the first when `None`), oldest
    /// first: the next chunk of a streamed CSV. Fewer than `limit` rows means the end. Each
    /// call borrows a reader only for its own chunk, so a slow download holds no connection.
    pub async fn statement_rows_after(
        &self,
        range: StatementRange,
        after: Option<StatementCursor>,
        limit: u32,
    ) -> Result<Vec<Transaction>, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| {
                    sqlite::statements::rows_after(conn, &range, after.as_ref(), limit)
                })
                .await
            }
        }
    }
}
