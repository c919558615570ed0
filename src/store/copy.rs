//! `bankd copy FROM TO`: moves a whole bank between databases, each a SQLite file or a
//! PostgreSQL URL, so that a laptop bank moves to PostgreSQL in one command, and back.
//!
//! # What is copied
//!
//! Every row of every bank table ([`TABLES`]), as stored: ids, password and token hashes, the
//! generated keys (`settings`), idempotency keys, cards, statements, and the audit log with its
//! hash chain byte for byte (times are text in one canonical form in both schemas, which is what
//! lets a copied chain verify). Nothing is re-derived from the API, so what arrives is exactly
//! what left, and an old token still logs in.
//!
//! Not copied, because the target rebuilds them: SQLite's audit filter tables (`audit_by_actor`,
//! `audit_by_object`, `audit_index_state`, migration V4). A SQLite target's migration creates
//! them empty and the copy fills them, in its own transaction, the way the writer does
//! (`sqlite::audit::index_new_rows`, called until it has caught up), so `verify` and the staff
//! filters see a complete index at once rather than after a server has run a while. A
//! PostgreSQL source's `audit_pending` (rows not yet sealed into the chain) has no SQLite
//! counterpart: a source with pending rows is refused until a node has sealed them.
//!
//! # Consistency
//!
//! The source is read in one snapshot: on SQLite one read transaction (a WAL snapshot, so a
//! server may keep writing meanwhile), on PostgreSQL one `REPEATABLE READ READ ONLY`
//! transaction. The target is written in one transaction: a failure half-way leaves it as it
//! was (a SQLite target file this command created is removed again). Rows stream from the source
//! to the target through a bounded channel in batches, so a large ledger never sits in memory.
//!
//! The target must be empty, which is checked before anything is written: a SQLite target must
//! not exist, or be an empty file, or a bankd database with no rows (e.g. after `bankd
//! migrate`); a PostgreSQL target is migrated and must have no rows in any bank table. Ids are
//! inserted as they are; on PostgreSQL every identity sequence is then moved past the highest id
//! copied (`setval`), or the first new row would collide.
//!
//! Types map one to one: integers are 64-bit in both, SQLite's 0/1 flags are PostgreSQL
//! booleans, BLOB is bytea, TEXT is text. A value is converted by the *target's* declared column
//! type, so nothing depends on how SQLite happened to store it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use rusqlite::types::{Value as SqlValue, ValueRef};
use tokio::sync::mpsc;
use tokio_postgres::types::{ToSql, Type};

use crate::store::maintenance::VerifyReport;
use crate::store::postgres::connect::{self, DatabaseUrl, PoolSettings};
use crate::store::{postgres, sqlite};

/// A table copied, with its columns in the order both schemas declare them and the key the
/// source is read in (so a copy of a copy is row for row the same, and a clustered table is
/// appended to in key order).
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub order_by: &'static str,
}

/// Every bank table, parents before children (foreign keys are checked as rows arrive). The
/// derived and pending tables are left out on purpose (module docs).
pub const TABLES: &[Table] = &[
    Table {
        name: "users",
        columns: &[
            "id",
            "username",
            "email",
            "password_hash",
            "is_staff",
            "is_superuser",
            "is_active",
            "date_joined",
            "auth_generation",
        ],
        order_by: "id",
    },
    Table {
        name: "auth_tokens",
        columns: &["token_sha256", "user_id", "created_at", "expires_at"],
        order_by: "token_sha256",
    },
    Table {
        name: "customers",
        columns: &[
            "id",
            "user_id",
            "full_name",
            "email",
            "phone_number",
            "date_of_birth",
            "gender",
            "created_at",
            "updated_at",
            "deleted_at",
        ],
        order_by: "id",
    },
    Table {
        name: "accounts",
        columns: &[
            "id",
            "account_number",
            "customer_id",
            "account_type",
            "nickname",
            "balance_cents",
            "status",
            "transaction_count",
            "created_at",
            "updated_at",
        ],
        order_by: "id",
    },
    Table {
        name: "transfers",
        columns: &[
            "id",
            "source_account_id",
            "destination_account_id",
            "amount_cents",
            "created_at",
        ],
        order_by: "id",
    },
    Table {
        name: "transactions",
        columns: &[
            "id",
            "account_id",
            "customer_id",
            "transaction_type",
            "amount_cents",
            "balance_after_cents",
            "counterparty_account_number",
            "transfer_id",
            "description",
            "created_at",
        ],
        // SQLite's ledger is clustered by (account_id, created_at, id) (migration V3): reading
        // in that order reads it sequentially and appends to the target's.
        order_by: "account_id, created_at, id",
    },
    Table {
        name: "settings",
        columns: &["name", "value"],
        order_by: "name",
    },
    Table {
        name: "audit_log",
        columns: &[
            "id",
            "created_at",
            "actor_user_id",
            "client_ip",
            "request_id",
            "action",
            "object_type",
            "object_id",
            "outcome",
            "details",
            "prev_hash",
            "hash",
            "client_request_id",
        ],
        order_by: "id",
    },
    Table {
        name: "idempotency_keys",
        columns: &[
            "user_id",
            "idempotency_key",
            "fingerprint",
            "response_status",
            "response_body",
            "created_at",
            "expires_at",
        ],
        order_by: "user_id, idempotency_key",
    },
    Table {
        name: "cards",
        columns: &[
            "id",
            "account_id",
            "customer_id",
            "card_type",
            "number_hmac",
            "last4",
            "cvv_hmac",
            "expiry_month",
            "expiry_year",
            "status",
            "credit_limit_cents",
            "created_at",
            "updated_at",
        ],
        order_by: "id",
    },
    Table {
        name: "statements",
        columns: &[
            "id",
            "account_id",
            "customer_id",
            "start_date",
            "end_date",
            "opening_balance_cents",
            "closing_balance_cents",
            "total_deposits_cents",
            "total_withdrawals_cents",
            "transaction_count",
            "last_transaction_id",
            "generated_at",
        ],
        order_by: "id",
    },
    Table {
        name: "auth_revocations",
        columns: &["id", "user_id", "revoked_at"],
        order_by: "id",
    },
    Table {
        name: "password_resets",
        columns: &["user_id", "token_sha256", "expires_at"],
        order_by: "user_id",
    },
];

/// Rows sent from the source to the target at a time; the channel holds a few batches, so the
/// two sides overlap without the copy holding more than a few thousand rows in memory.
const ROWS_PER_BATCH: usize = 1_000;
const BATCHES_IN_FLIGHT: usize = 4;

/// Connections a copy opens to one PostgreSQL database: one is all it uses.
const POOL_SETTINGS: PoolSettings = PoolSettings {
    pool_size_max: 1,
    // A copy of a large bank is one long statement per table (COPY); it must not be cut off.
    statement_timeout: Duration::ZERO,
    connect_timeout: Duration::from_secs(10),
};

/// One end of a copy, as given on the command line.
#[derive(Debug)]
pub enum Endpoint {
    Sqlite(PathBuf),
    Postgres(Box<DatabaseUrl>),
}

impl Endpoint {
    /// A `postgres://` or `postgresql://` URL is PostgreSQL; anything else is a SQLite path.
    pub fn parse(text: &str) -> Result<Self, String> {
        if connect::is_postgres_url(text) {
            Ok(Self::Postgres(Box::new(DatabaseUrl::parse(text)?)))
        } else {
            Ok(Self::Sqlite(PathBuf::from(text)))
        }
    }

    /// Names the endpoint without a password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => url.describe(),
        }
    }
}

/// One column's value in transit, in the storage classes both databases share.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Null,
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
}

type Row = Vec<Value>;

/// What the source sends: a batch of a table's rows, then the table's end with its row count.
enum Message {
    Rows { table: usize, rows: Vec<Row> },
    TableDone { table: usize, rows: u64 },
}

/// What a finished copy reports: the rows copied per table, in [`TABLES`] order.
#[derive(Debug)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

/// Copies the bank at `from` into the empty database `to`. Progress (each table and its row
/// count) goes to stderr as it happens.
pub async fn copy(from: &Endpoint, to: &Endpoint) -> Result<Copied, String> {
    if let (Endpoint::Sqlite(a), Endpoint::Sqlite(b)) = (from, to)
        && same_file(a, b)
    {
        return Err("FROM and TO are the same database".to_owned());
    }
    let (sender, receiver) = mpsc::channel(BATCHES_IN_FLIGHT);
    let source = async {
        match from {
            Endpoint::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || read_sqlite(&path, sender))
                    .await
                    .map_err(|e| format!("the source reader failed: {e}"))?
            }
            Endpoint::Postgres(url) => read_postgres(url, sender).await,
        }
    };
    let target = async {
        match to {
            Endpoint::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || write_sqlite(&path, receiver))
                    .await
                    .map_err(|e| format!("the target writer failed: {e}"))?
            }
            Endpoint::Postgres(url) => write_postgres(url, receiver).await,
        }
    };
    let (read, written) = tokio::join!(source, target);
    match (read, written) {
        (Ok(()), written) => written,
        // The source stopped because the target did: the target's error is the cause.
        (Err(stopped), Err(cause)) if stopped == TARGET_STOPPED => Err(cause),
        // Otherwise the source's error explains a target that saw the rows end early.
        (Err(cause), _) => Err(cause),
    }
}

/// The source's error when the target hung up on it (the target says why).
const TARGET_STOPPED: &str = "the target stopped";

/// Whether two paths name one existing file (copying a file onto itself would find it not
/// empty, but saying so plainly is kinder).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn column_list(table: &Table) -> String {
    table.columns.join(", ")
}

// ---------------------------------------------------------------------------------------------
// SQLite

/// Reads every table from one read transaction on a read-only connection.
fn read_sqlite(path: &Path, sender: mpsc::Sender<Message>) -> Result<(), String> {
    let mut conn = sqlite::verify::open_read_only(path)?;
    // A deferred transaction takes its snapshot at the first read and keeps it to the end.
    let snapshot = conn
        .transaction()
        .map_err(|e| format!("cannot start a read transaction on {}: {e}", path.display()))?;
    match sqlite::migrate::is_current(&snapshot) {
        Ok(true) => {}
        Ok(false) => {
            return Err(format!(
                "{} is a bankd database from another version: run `bankd migrate --database {}` \
                 with the bankd that made it, or this one, first",
                path.display(),
                path.display()
            ));
        }
        Err(_) => return Err(format!("{} is not a bankd database", path.display())),
    }
    for (index, table) in TABLES.iter().enumerate() {
        let mut statement = snapshot
            .prepare(&format!(
                "SELECT {} FROM {} ORDER BY {}",
                column_list(table),
                table.name,
                table.order_by
            ))
            .map_err(|e| format!("cannot read {}: {e}", table.name))?;
        let mut rows = statement
            .query([])
            .map_err(|e| format!("cannot read {}: {e}", table.name))?;
        let mut batch = Vec::with_capacity(ROWS_PER_BATCH);
        let mut count = 0_u64;
        while let Some(row) = rows
            .next()
            .map_err(|e| format!("cannot read {}: {e}", table.name))?
        {
            let mut values = Vec::with_capacity(table.columns.len());
            for (column, name) in table.columns.iter().enumerate() {
                let value = match row
                    .get_ref(column)
                    .map_err(|e| format!("cannot read {}.{name}: {e}", table.name))?
                {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(number) => Value::Integer(number),
                    ValueRef::Text(text) => {
                        Value::Text(String::from_utf8(text.to_vec()).map_err(|_| {
                            format!("{}.{name} holds text that is not UTF-8", table.name)
                        })?)
                    }
                    ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
                    ValueRef::Real(_) => {
                        return Err(format!(
                            "{}.{name} holds a floating-point number; bankd never writes one",
                            table.name
                        ));
                    }
                };
                values.push(value);
            }
            batch.push(values);
            count += 1;
            if batch.len() == ROWS_PER_BATCH {
                send_blocking(
                    &sender,
                    Message::Rows {
                        table: index,
                        rows: std::mem::take(&mut batch),
                    },
                )?;
            }
        }
        if !batch.is_empty() {
            send_blocking(
                &sender,
                Message::Rows {
                    table: index,
                    rows: batch,
                },
            )?;
        }
        send_blocking(
            &sender,
            Message::TableDone {
                table: index,
                rows: count,
            },
        )?;
    }
    Ok(())
}

fn send_blocking(sender: &mpsc::Sender<Message>, message: Message) -> Result<(), String> {
    // The receiver is gone only when the target failed; its error is the one reported.
    sender
        .blocking_send(message)
        .map_err(|_| TARGET_STOPPED.to_owned())
}

/// Writes the copy into the SQLite file at `path`; a file this copy created is removed again
/// if the copy fails, so a refused or failed copy leaves nothing behind.
fn write_sqlite(path: &Path, receiver: mpsc::Receiver<Message>) -> Result<Copied, String> {
    let existed = path.exists();
    let outcome = write_sqlite_inner(path, existed, receiver);
    if outcome.is_err() && !existed {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
    outcome
}

fn write_sqlite_inner(
    path: &Path,
    existed: bool,
    mut receiver: mpsc::Receiver<Message>,
) -> Result<Copied, String> {
    if existed {
        check_sqlite_target_is_empty(path)?;
    }
    let mut conn = sqlite::open_connection(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    sqlite::migrate::run(&mut conn)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| format!("cannot start writing {}: {e}", path.display()))?;
    let mut copied = Vec::with_capacity(TABLES.len());
    while copied.len() < TABLES.len() {
        let Some(message) = receiver.blocking_recv() else {
            return Err("the source stopped before every table was read".to_owned());
        };
        match message {
            Message::Rows { table, rows } => {
                let table = &TABLES[table];
                let placeholders = vec!["?"; table.columns.len()].join(", ");
                let mut insert = tx
                    .prepare_cached(&format!(
                        "INSERT INTO {} ({}) VALUES ({placeholders})",
                        table.name,
                        column_list(table)
                    ))
                    .map_err(|e| format!("cannot write {}: {e}", table.name))?;
                for row in rows {
                    let values = row.into_iter().map(|value| match value {
                        Value::Null => SqlValue::Null,
                        Value::Integer(number) => SqlValue::Integer(number),
                        Value::Text(text) => SqlValue::Text(text),
                        Value::Blob(bytes) => SqlValue::Blob(bytes),
                    });
                    insert
                        .execute(rusqlite::params_from_iter(values))
                        .map_err(|e| format!("cannot write a row of {}: {e}", table.name))?;
                }
            }
            Message::TableDone { table, rows } => {
                let name = TABLES[table].name;
                eprintln!("copied {name}: {rows} rows");
                copied.push((name, rows));
            }
        }
    }
    // The audit filter tables (derived, not copied): filled now, as the writer would.
    loop {
        let behind: bool = tx
            .query_row(
                "SELECT (SELECT indexed_through FROM audit_index_state)
                        < (SELECT coalesce(max(id), 0) FROM audit_log)",
                [],
                |row| row.get(0),
            )
            .map_err(|e| format!("cannot index the audit log: {e}"))?;
        if !behind {
            break;
        }
        sqlite::audit::index_new_rows(&tx)
            .map_err(|e| format!("cannot index the audit log: {e}"))?;
    }
    eprintln!("rebuilt the audit filter tables");
    tx.commit()
        .map_err(|e| format!("cannot commit the copy into {}: {e}", path.display()))?;
    Ok(Copied { tables: copied })
}

/// An existing SQLite target is accepted only if it is an empty file or a bankd database without
/// rows; anything else is refused before it is opened for writing (or migrated).
fn check_sqlite_target_is_empty(path: &Path) -> Result<(), String> {
    let conn = sqlite::verify::open_read_only(path)?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(|e| format!("{} is not a SQLite database: {e}", path.display()))?;
    if tables.is_empty() {
        return Ok(());
    }
    if !tables.iter().any(|name| name == "refinery_schema_history") {
        return Err(format!(
            "{} exists and is not a bankd database; the target must be empty",
            path.display()
        ));
    }
    for table in TABLES
        .iter()
        .filter(|t| tables.iter().any(|name| name == t.name))
    {
        let has_rows: bool = conn
            .query_row(
                &format!("SELECT EXISTS (SELECT 1 FROM {})", table.name),
                [],
                |row| row.get(0),
            )
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if has_rows {
            return Err(format!(
                "{} already holds a bank ({} has rows); the target must be empty",
                path.display(),
                table.name
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async fn connect_to(url: &DatabaseUrl) -> Result<deadpool_postgres::Object, String> {
    let pool = connect::pool(url, POOL_SETTINGS)?;
    pool.get()
        .await
        .map_err(|e| format!("cannot connect to {}: {}", url.describe(), with_causes(&e)))
}

/// An error with its causes: the pool's and the driver's own text is often only "db error",
/// with the server's message (say, that the database does not exist) one `source()` below.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text = format!("{text}: {inner_text}");
        }
        cause = inner.source();
    }
    text
}

/// Reads every table from one `REPEATABLE READ READ ONLY` transaction.
async fn read_postgres(url: &DatabaseUrl, sender: mpsc::Sender<Message>) -> Result<(), String> {
    let mut client = connect_to(url).await?;
    // Checked before the snapshot (the check takes a plain client); migrations are not run
    // against a database being copied.
    if !postgres::migrate::is_current(&client).await? {
        return Err(format!(
            "{} is not a bankd database with every migration applied (run `bankd migrate` on it)",
            url.describe()
        ));
    }
    let snapshot = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| format!("cannot start a read transaction: {}", with_causes(&e)))?;
    let pending: i64 = snapshot
        .query_one("SELECT count(*) FROM audit_pending", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| format!("cannot read audit_pending: {}", with_causes(&e)))?;
    if pending > 0 {
        return Err(format!(
            "{pending} audit rows are not sealed into the chain yet; let a running node seal \
             them (or start one for a moment), then copy"
        ));
    }
    for (index, table) in TABLES.iter().enumerate() {
        let query = format!(
            "SELECT {} FROM {} ORDER BY {}",
            column_list(table),
            table.name,
            table.order_by
        );
        let rows = snapshot
            .query_raw(&query, std::iter::empty::<i64>())
            .await
            .map_err(|e| format!("cannot read {}: {}", table.name, with_causes(&e)))?;
        let mut rows = std::pin::pin!(rows);
        let mut batch = Vec::with_capacity(ROWS_PER_BATCH);
        let mut count = 0_u64;
        while let Some(row) = rows.next().await {
            let row =
                row.map_err(|e| format!("cannot read {}: {}", table.name, with_causes(&e)))?;
            let mut values = Vec::with_capacity(table.columns.len());
            for (column, name) in table.columns.iter().enumerate() {
                values.push(pg_value(&row, column).map_err(|e| {
                    format!("cannot read {}.{name}: {}", table.name, with_causes(&e))
                })?);
            }
            batch.push(values);
            count += 1;
            if batch.len() == ROWS_PER_BATCH {
                send(
                    &sender,
                    Message::Rows {
                        table: index,
                        rows: std::mem::take(&mut batch),
                    },
                )
                .await?;
            }
        }
        if !batch.is_empty() {
            send(
                &sender,
                Message::Rows {
                    table: index,
                    rows: batch,
                },
            )
            .await?;
        }
        send(
            &sender,
            Message::TableDone {
                table: index,
                rows: count,
            },
        )
        .await?;
    }
    snapshot
        .commit()
        .await
        .map_err(|e| format!("cannot end the read transaction: {}", with_causes(&e)))
}

async fn send(sender: &mpsc::Sender<Message>, message: Message) -> Result<(), String> {
    sender
        .send(message)
        .await
        .map_err(|_| TARGET_STOPPED.to_owned())
}

/// A PostgreSQL column as a [`Value`]; booleans become SQLite's 0/1.
fn pg_value(row: &tokio_postgres::Row, column: usize) -> Result<Value, tokio_postgres::Error> {
    let kind = row.columns()[column].type_().clone();
    Ok(if kind == Type::BOOL {
        row.try_get::<_, Option<bool>>(column)?
            .map_or(Value::Null, |flag| Value::Integer(i64::from(flag)))
    } else if kind == Type::INT8 {
        row.try_get::<_, Option<i64>>(column)?
            .map_or(Value::Null, Value::Integer)
    } else if kind == Type::INT4 {
        row.try_get::<_, Option<i32>>(column)?
            .map_or(Value::Null, |number| Value::Integer(i64::from(number)))
    } else if kind == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(column)?
            .map_or(Value::Null, Value::Blob)
    } else {
        // text, and anything else text-like: the driver refuses a type it cannot read as text.
        row.try_get::<_, Option<String>>(column)?
            .map_or(Value::Null, Value::Text)
    })
}

/// A [`Value`] as the parameter the target column's type takes.
fn pg_parameter(value: Value, kind: &Type) -> Result<Box<dyn ToSql + Sync + Send>, String> {
    Ok(match (value, kind) {
        (Value::Null, kind) if *kind == Type::BOOL => Box::new(None::<bool>),
        (Value::Null, kind) if *kind == Type::INT8 => Box::new(None::<i64>),
        (Value::Null, kind) if *kind == Type::BYTEA => Box::new(None::<Vec<u8>>),
        (Value::Null, _) => Box::new(None::<String>),
        (Value::Integer(number), kind) if *kind == Type::BOOL => match number {
            0 => Box::new(false),
            1 => Box::new(true),
            other => return Err(format!("{other} is not a flag (0 or 1)")),
        },
        (Value::Integer(number), kind) if *kind == Type::INT8 => Box::new(number),
        (Value::Blob(bytes), kind) if *kind == Type::BYTEA => Box::new(bytes),
        // SQLite may hold a BLOB column's bytes as text when a hand-written row put them there.
        (Value::Text(text), kind) if *kind == Type::BYTEA => Box::new(text.into_bytes()),
        (Value::Text(text), kind) if *kind == Type::TEXT => Box::new(text),
        (value, kind) => return Err(format!("cannot store {value:?} in a {kind} column")),
    })
}

/// Migrates the target, checks it holds no bank, and writes every table in one transaction
/// with binary COPY, then moves the identity sequences past the copied ids.
async fn write_postgres(
    url: &DatabaseUrl,
    mut receiver: mpsc::Receiver<Message>,
) -> Result<Copied, String> {
    let mut client = connect_to(url).await?;
    postgres::migrate::run(&mut client).await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| format!("cannot start writing: {}", with_causes(&e)))?;
    // Held to the commit: a node started on the target meanwhile waits instead of writing
    // between the emptiness check and the copy.
    let every_table: Vec<&str> = TABLES
        .iter()
        .map(|t| t.name)
        .chain(["audit_pending"])
        .collect();
    tx.batch_execute(&format!(
        "LOCK TABLE {} IN EXCLUSIVE MODE",
        every_table.join(", ")
    ))
    .await
    .map_err(|e| format!("cannot lock the target's tables: {}", with_causes(&e)))?;
    for name in every_table {
        let has_rows: bool = tx
            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {name})"), &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| format!("cannot read {name}: {}", with_causes(&e)))?;
        if has_rows {
            return Err(format!(
                "{} already holds a bank ({name} has rows); the target must be empty",
                url.describe()
            ));
        }
    }
    let mut copied = Vec::with_capacity(TABLES.len());
    // The COPY in progress: its table and its writer.
    let mut current: Option<(
        usize,
        Vec<Type>,
        std::pin::Pin<Box<tokio_postgres::binary_copy::BinaryCopyInWriter>>,
    )> = None;
    while copied.len() < TABLES.len() {
        let Some(message) = receiver.recv().await else {
            return Err("the source stopped before every table was read".to_owned());
        };
        match message {
            Message::Rows { table, rows } => {
                if current.as_ref().map(|(open, ..)| *open) != Some(table) {
                    let spec = &TABLES[table];
                    let columns = column_list(spec);
                    let types: Vec<Type> = tx
                        .prepare(&format!("SELECT {columns} FROM {} LIMIT 0", spec.name))
                        .await
                        .map_err(|e| {
                            format!(
                                "cannot read the columns of {}: {}",
                                spec.name,
                                with_causes(&e)
                            )
                        })?
                        .columns()
                        .iter()
                        .map(|column| column.type_().clone())
                        .collect();
                    let sink = tx
                        .copy_in(&format!("COPY {} ({columns}) FROM STDIN BINARY", spec.name))
                        .await
                        .map_err(|e| format!("cannot write {}: {}", spec.name, with_causes(&e)))?;
                    let writer = Box::pin(tokio_postgres::binary_copy::BinaryCopyInWriter::new(
                        sink, &types,
                    ));
                    current = Some((table, types, writer));
                }
                let Some((_, types, writer)) = current.as_mut() else {
                    return Err("no COPY open for a batch of rows".to_owned());
                };
                let name = TABLES[table].name;
                for row in rows {
                    let parameters = row
                        .into_iter()
                        .zip(types.iter())
                        .map(|(value, kind)| pg_parameter(value, kind))
                        .collect::<Result<Vec<_>, String>>()
                        .map_err(|e| format!("cannot write a row of {name}: {e}"))?;
                    let references: Vec<&(dyn ToSql + Sync)> = parameters
                        .iter()
                        .map(|parameter| parameter.as_ref() as &(dyn ToSql + Sync))
                        .collect();
                    writer.as_mut().write(&references).await.map_err(|e| {
                        format!("cannot write a row of {name}: {}", with_causes(&e))
                    })?;
                }
            }
            Message::TableDone { table, rows } => {
                let name = TABLES[table].name;
                if let Some((open, _, writer)) = current.take() {
                    debug_assert_eq!(open, table, "a table's rows come before its end");
                    let mut writer = writer;
                    let written = writer
                        .as_mut()
                        .finish()
                        .await
                        .map_err(|e| format!("cannot write {name}: {}", with_causes(&e)))?;
                    if written != rows {
                        return Err(format!("{name}: read {rows} rows but wrote {written}"));
                    }
                }
                eprintln!("copied {name}: {rows} rows");
                copied.push((name, rows));
            }
        }
    }
    // Identity columns only: for statements and audit_log (ids assigned by the store, not a
    // sequence) pg_get_serial_sequence is NULL and setval, being strict, does nothing.
    for table in TABLES.iter().filter(|t| t.columns.contains(&"id")) {
        let name = table.name;
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id)) FROM {name} \
                 HAVING max(id) IS NOT NULL"
            ),
            &[],
        )
        .await
        .map_err(|e| format!("cannot move the id sequence of {name}: {}", with_causes(&e)))?;
    }
    tx.commit()
        .await
        .map_err(|e| format!("cannot commit the copy: {}", with_causes(&e)))?;
    Ok(Copied { tables: copied })
}

/// Checks the target after a copy: `bankd verify` on either backend (SQLite's
/// `sqlite::verify::verify`, PostgreSQL's `postgres::verify::verify`, which report alike).
pub async fn verify_target(to: Endpoint) -> Result<VerifyReport, String> {
    match to {
        Endpoint::Sqlite(path) => {
            tokio::task::spawn_blocking(move || sqlite::verify::verify(&path, None))
                .await
                .map_err(|e| e.to_string())?
        }
        Endpoint::Postgres(url) => {
            let pool = connect::pool(&url, POOL_SETTINGS)?;
            crate::store::postgres::verify::verify(&pool, None).await
        }
    }
}
