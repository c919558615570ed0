//! Writes a bankd database with millions of ledger rows, directly and fast, for the scale
//! benchmark (`bench/scale.sh`).
//!
//! ```sh
//! cargo run --release --example generate_ledger -- --database /tmp/scale.db --transactions 10000000
//! ```
//!
//! The schema comes from bankd's own migrations (`bankd::store::sqlite::migrate::run`); the rows are then
//! inserted with prepared statements in large transactions into a staging table in id order,
//! copied into the ledger (which is clustered by account) in its key order, and the ledger's
//! indexes, dropped during the load, are rebuilt afterwards from their own `CREATE INDEX` text. The result is a
//! database the server could have written itself, and `bankd verify` checks it:
//!
//! * every user has a real argon2id password hash (one hash, computed once with
//!   `bankd::auth::hash_blocking`, shared by every user), so anyone can log in through the API;
//! * every account's `balance_cents` is the signed sum of its ledger rows, its
//!   `transaction_count` their number, and each row's `balance_after_cents` chains from the
//!   previous row of the same account; no balance ever goes negative;
//! * a transfer is one `transfers` row and two legs (`transfer_out`, then `transfer_in`) with
//!   the same `transfer_id`, amount and time, naming each other's account number;
//! * `created_at` never decreases with `id` and spreads over the last `--days` days, ending a
//!   minute before the generator started, so postings the server makes later sort after them.
//!
//! Who posts: each posting picks the heavy account with probability `--heavy-share`, the busy
//! account with `--busy-share`, else one of the `2 × --users` ordinary accounts uniformly. With
//! the defaults (10M rows, 10,000 users) the heavy account has ~100,000 rows (~8,300 a month),
//! the busy one ~10,000 (~830 a month) and an ordinary one ~500 (~40 a month). The generator
//! prints a JSON summary (ids, row counts, usernames) on stdout for the benchmark script.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{Duration, Utc};
use clap::Parser;
use rusqlite::{Connection, params};

#[derive(Parser, Debug)]
#[command(about = "Generate a bankd database with many ledger rows")]
struct Args {
    /// The database file to create (must not exist)
    #[arg(long)]
    database: PathBuf,
    /// Ledger rows to write (a transfer writes two)
    #[arg(long, default_value_t = 10_000_000)]
    transactions: u64,
    /// Ordinary users, each with one customer profile and two accounts
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Every user's password
    #[arg(long, default_value = "a-strong-password123")]
    password: String,
    /// Share of postings that touch the heavy account
    #[arg(long, default_value_t = 0.01)]
    heavy_share: f64,
    /// Share of postings that touch the busy account
    #[arg(long, default_value_t = 0.001)]
    busy_share: f64,
    /// Days of history
    #[arg(long, default_value_t = 365)]
    days: i64,
    /// Seed of the pseudo-random choices
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Rows per transaction while loading
    #[arg(long, default_value_t = 250_000)]
    batch: u64,
}

/// splitmix64: small, fast, and good enough to pick accounts and amounts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct AccountState {
    number: String,
    customer_id: i64,
    balance: i64,
    count: i64,
    updated_at: Option<String>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    if args.database.exists() {
        return Err(format!("{} already exists", args.database.display()).into());
    }
    let started = Instant::now();

    // 1. The schema, exactly as the server creates it.
    {
        let mut conn = bankd::store::sqlite::open_connection(&args.database)?;
        bankd::store::sqlite::migrate::run(&mut conn)?;
    }
    let password_hash = bankd::auth::hash_blocking(&args.password)
        .map_err(|e| format!("cannot hash the password: {e:?}"))?;

    // 2. A loading connection: no journal, no fsync, a big cache, no FK checks (rows are
    //    written parents-last; the references are still all valid at the end, and `bankd
    //    verify` checks them).
    let mut conn = Connection::open(&args.database)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA foreign_keys = OFF;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -1048576;",
    )?;
    let ledger_indexes: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, sql FROM sqlite_master
             WHERE type = 'index' AND tbl_name = 'transactions' AND sql IS NOT NULL",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (name, _) in &ledger_indexes {
        conn.execute_batch(&format!("DROP INDEX {name}"))?;
    }
    // Rows are generated in id (time) order; the ledger is keyed by account first, so they are
    // staged here and copied over sorted by that key, which appends instead of inserting at
    // random.
    conn.execute_batch(
        "CREATE TABLE ledger_load (id INTEGER PRIMARY KEY, account_id, customer_id,
             transaction_type, amount_cents, balance_after_cents, counterparty_account_number,
             transfer_id, description, created_at)",
    )?;

    let now = Utc::now() - Duration::minutes(1);
    let history_start = now - Duration::days(args.days);
    let joined = bankd::domain::time::format_time(history_start - Duration::days(1));
    let step_micros = ((now - history_start).num_microseconds().unwrap_or(0)
        / args.transactions.max(1) as i64)
        .max(1);

    // 3. Users, customers and (placeholder) accounts: ordinary users 1..=U own accounts
    //    2u-1 and 2u; user U+1 ("heavy") owns the heavy and the busy account.
    let heavy_user = args.users + 1;
    let mut accounts: Vec<AccountState> = Vec::with_capacity(2 * heavy_user as usize);
    {
        let tx = conn.transaction()?;
        {
            let mut user = tx.prepare(
                "INSERT INTO users (id, username, email, password_hash, date_joined)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut customer = tx.prepare(
                "INSERT INTO customers (id, user_id, full_name, email, created_at, updated_at)
                 VALUES (?1, ?1, ?2, ?3, ?4, ?4)",
            )?;
            for id in 1..=heavy_user {
                let username = if id == heavy_user {
                    "heavy".to_owned()
                } else {
                    format!("user{id}")
                };
                let email = format!("{username}@example.com");
                user.execute(params![id as i64, username, email, password_hash, joined])?;
                customer.execute(params![id as i64, format!("Customer {id}"), email, joined])?;
                for _ in 0..2 {
                    // A bijection of the account id onto 9 digits: unique numbers.
                    let n = accounts.len() as u64 + 1;
                    let digits = (n * 7_919 + 123_456_789) % 1_000_000_000;
                    accounts.push(AccountState {
                        number: format!("ACC-{digits:09}"),
                        customer_id: id as i64,
                        balance: 0,
                        count: 0,
                        updated_at: None,
                    });
                }
            }
        }
        tx.commit()?;
    }
    let heavy = accounts.len() - 2; // index into `accounts`; id = index + 1
    let busy = accounts.len() - 1;
    let ordinary = (accounts.len() - 2) as u64;

    // 4. The ledger.
    let mut rng = Rng(args.seed);
    let pick = |rng: &mut Rng| -> usize {
        let r = rng.unit();
        if r < args.heavy_share {
            heavy
        } else if r < args.heavy_share + args.busy_share {
            busy
        } else {
            rng.below(ordinary) as usize
        }
    };
    let mut rows: u64 = 0;
    let mut transfers: i64 = 0;
    let load_started = Instant::now();
    while rows < args.transactions {
        // One transaction per `--batch` rows; statements are prepared once per transaction.
        let tx = conn.transaction()?;
        {
            let mut insert_leg = tx.prepare_cached(
                "INSERT INTO ledger_load (account_id, customer_id, transaction_type, amount_cents,
                     balance_after_cents, counterparty_account_number, transfer_id, description,
                     created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '', ?8)",
            )?;
            let mut insert_transfer = tx.prepare_cached(
                "INSERT INTO transfers (id, source_account_id, destination_account_id,
                     amount_cents, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let batch_end = rows.saturating_add(args.batch).min(args.transactions);
            while rows < batch_end {
                // Time advances with the row number, so created_at never decreases with id.
                let at = bankd::domain::time::format_time(
                    history_start + Duration::microseconds(rows as i64 * step_micros),
                );
                let amount = 100 + rng.below(50_000) as i64;
                let kind = rng.below(100);
                let mut source = pick(&mut rng);
                // 65% of events are transfers (two rows), 15% withdrawals, 20% deposits. A
                // withdrawal or transfer the balance cannot cover becomes a deposit.
                let mut is_transfer = kind >= 35 && rows + 2 <= args.transactions;
                let mut destination = source;
                if is_transfer {
                    while destination == source {
                        destination = pick(&mut rng);
                    }
                    if accounts[source].balance < amount {
                        if accounts[destination].balance >= amount {
                            std::mem::swap(&mut source, &mut destination);
                        } else {
                            is_transfer = false;
                        }
                    }
                }
                if is_transfer {
                    transfers += 1;
                    insert_transfer.execute(params![
                        transfers,
                        source as i64 + 1,
                        destination as i64 + 1,
                        amount,
                        at
                    ])?;
                    for (account, other, leg, delta) in [
                        (source, destination, "transfer_out", -amount),
                        (destination, source, "transfer_in", amount),
                    ] {
                        let counterparty = accounts[other].number.clone();
                        let state = &mut accounts[account];
                        state.balance += delta;
                        state.count += 1;
                        state.updated_at = Some(at.clone());
                        insert_leg.execute(params![
                            account as i64 + 1,
                            state.customer_id,
                            leg,
                            amount,
                            state.balance,
                            counterparty,
                            transfers,
                            at
                        ])?;
                    }
                    rows += 2;
                } else {
                    let state = &mut accounts[source];
                    let withdraw = kind < 15 && state.balance >= amount;
                    let (leg, delta) = if withdraw {
                        ("withdrawal", -amount)
                    } else {
                        ("deposit", amount)
                    };
                    state.balance += delta;
                    state.count += 1;
                    state.updated_at = Some(at.clone());
                    insert_leg.execute(params![
                        source as i64 + 1,
                        state.customer_id,
                        leg,
                        amount,
                        state.balance,
                        Option::<&str>::None,
                        Option::<i64>::None,
                        at
                    ])?;
                    rows += 1;
                }
            }
        }
        tx.commit()?;
        eprintln!(
            "generate_ledger: {rows} rows ({:.1} s)",
            load_started.elapsed().as_secs_f64()
        );
    }
    let load_seconds = load_started.elapsed().as_secs_f64();

    // 5. Accounts with their final balances and counts.
    {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO accounts (id, account_number, customer_id, balance_cents,
                     transaction_count, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (index, state) in accounts.iter().enumerate() {
                insert.execute(params![
                    index as i64 + 1,
                    state.number,
                    state.customer_id,
                    state.balance,
                    state.count,
                    joined,
                    state.updated_at.as_deref().unwrap_or(&joined)
                ])?;
            }
        }
        tx.commit()?;
    }

    // 6. The ledger in its key order, then its indexes, rebuilt from their own definitions.
    let index_started = Instant::now();
    conn.execute_batch(
        "INSERT INTO transactions (id, account_id, customer_id, transaction_type, amount_cents,
             balance_after_cents, counterparty_account_number, transfer_id, description, created_at)
         SELECT id, account_id, customer_id, transaction_type, amount_cents, balance_after_cents,
             counterparty_account_number, transfer_id, description, created_at
         FROM ledger_load ORDER BY account_id, created_at, id;
         DROP TABLE ledger_load;",
    )?;
    for (_, sql) in &ledger_indexes {
        conn.execute_batch(sql)?;
    }
    let index_seconds = index_started.elapsed().as_secs_f64();
    conn.execute_batch("PRAGMA journal_mode = WAL;")?;
    drop(conn);

    let summary = serde_json::json!({
        "database": args.database.display().to_string(),
        "rows": rows,
        "transfers": transfers,
        "users": heavy_user,
        "accounts": accounts.len(),
        "password": args.password,
        "heavy_user": "heavy",
        "heavy_account": heavy + 1,
        "heavy_account_rows": accounts[heavy].count,
        "busy_account": busy + 1,
        "busy_account_rows": accounts[busy].count,
        "typical_user": "user1",
        "typical_account": 1,
        "typical_account_rows": accounts[0].count,
        "history_start": bankd::domain::time::format_time(history_start),
        "history_end": bankd::domain::time::format_time(now),
        "load_seconds": load_seconds,
        "index_seconds": index_seconds,
        "total_seconds": started.elapsed().as_secs_f64(),
    });
    println!("{summary}");
    Ok(())
}
