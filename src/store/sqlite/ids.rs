//! Typed ids as SQLite values: written as integers, read strictly (a NULL or a text where an
//! id belongs is an error, never a default).

use rusqlite::ToSql;
use rusqlite::types::{FromSql, FromSqlResult, ToSqlOutput, ValueRef};

use crate::store::ids::{
    AccountId, AuditId, CardId, CustomerId, StatementId, TransactionId, TransferId, UserId,
};

macro_rules! sql_ids {
    ($($name:ident),*) => {$(
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.get()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(value).map($name::new)
            }
        }
    )*};
}

sql_ids!(
    UserId,
    CustomerId,
    AccountId,
    TransactionId,
    TransferId,
    CardId,
    StatementId,
    AuditId
);
