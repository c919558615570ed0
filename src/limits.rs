//! Every hard limit in bankd, in one place, named with its unit last.
//!
//! Limits that depend on each other have their relationship checked at compile time, so changing
//! one without the other fails the build instead of failing in production. Relationships between
//! configured values are checked when the server starts (`check_config`); the one between the
//! readers and the runtime's blocking threads holds by construction (`blocking_threads`).
//!
//! Not here, on purpose: constants that define a format (the account number prefix, the CSV
//! header, a JWT header, the audit chain's genesis hash), and tunables whose argument is their
//! module's whole subject and which are asserted there: the checkpoint thresholds
//! (`store/sqlite/commit/checkpoint.rs`) and the syncer threads (`commit/durability.rs`).

/// Largest request body accepted, in bytes (contract §1).
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;

/// Largest amount a single movement may carry, in cents: 9,999,999,999.99.
pub const AMOUNT_CENTS_MAX: i64 = 999_999_999_999;

/// Largest balance an account may hold, in cents: 9,999,999,999,999,999.99.
pub const BALANCE_CENTS_MAX: i64 = 999_999_999_999_999_999;

/// Digits an amount may have in all, and after the decimal point (DRF `max_digits=12`,
/// `decimal_places=2`).
pub const AMOUNT_DIGITS_MAX: u32 = 12;
pub const AMOUNT_DECIMAL_PLACES_MAX: u32 = 2;

/// Page sizes for every list endpoint.
pub const PAGE_SIZE_DEFAULT: u32 = 20;
pub const PAGE_SIZE_MAX: u32 = 100;

/// Field lengths, in characters.
pub const USERNAME_CHARS_MAX: usize = 150;
pub const FULL_NAME_CHARS_MAX: usize = 200;
pub const EMAIL_CHARS_MAX: usize = 254;
pub const PHONE_NUMBER_CHARS_MAX: usize = 32;
pub const NICKNAME_CHARS_MAX: usize = 100;
pub const DESCRIPTION_CHARS_MAX: usize = 255;
pub const PASSWORD_CHARS_MIN: usize = 8;
/// argon2 takes any length, but hashing a 64 KiB "password" is a cheap way to burn CPU.
pub const PASSWORD_CHARS_MAX: usize = 4096;

/// Digits after `ACC-` in an account number.
pub const ACCOUNT_NUMBER_DIGITS: usize = 9;
/// Attempts to draw an unused account number before giving up (a collision among 10^9 numbers
/// is rare; ten in a row means something else is wrong).
pub const ACCOUNT_NUMBER_ATTEMPTS_MAX: u32 = 10;

/// Bytes of CSPRNG output in an opaque API token (160 bits, rendered as 40 hex characters).
pub const TOKEN_BYTES: usize = 20;

/// Length of a client-supplied `X-Request-Id` we are willing to echo and record (a UUID is
/// 36, a W3C `traceparent` 55). Longer ones are dropped, not truncated: a cut id would
/// correlate with the wrong thing.
pub const REQUEST_ID_CHARS_MAX: usize = 64;

/// Writes the writer thread takes into one commit, and jobs that may wait for it.
pub const WRITE_BATCH_JOBS_MAX: usize = 256;
pub const WRITE_QUEUE_JOBS_MAX: usize = 4096;

/// Statement work (generating, paging, streaming CSV) allowed at once by default, and how long
/// a request waits for a turn before `503`, in milliseconds (`statements.*` in the config).
/// Each holds a blocking thread or a download for a while: four keep at least half of the
/// default eight readers for everything else.
pub const STATEMENTS_CONCURRENT_DEFAULT: usize = 4;
// Long enough for the requests ahead to finish a year's CSV on a busy, small host (16 parallel
// 2.8 MB downloads through 4 turns took over 2 s each in a debug build on 2 shared cores).
pub const STATEMENTS_QUEUE_WAIT_MS_DEFAULT: u64 = 10_000;

/// How long a connection waits for SQLite's lock before failing, in milliseconds.
pub const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// Read connections in the pool by default (`database.readers`).
pub const DATABASE_READERS_DEFAULT: u32 = 8;

/// The request timeout and the header-read timeout by default, in seconds
/// (`server.request_timeout_seconds`, `server.header_read_timeout_seconds`).
pub const REQUEST_TIMEOUT_SECONDS_DEFAULT: u64 = 30;
pub const HEADER_READ_TIMEOUT_SECONDS_DEFAULT: u64 = 15;

/// The async runtime's blocking threads (tokio's `max_blocking_threads`): enough for every
/// reader connection, plus [`BLOCKING_THREADS_SPARE`] for the other blocking work (a `/metrics`
/// render, the CLI's password hashing, joining the writer at shutdown) and for reads waiting on
/// a pooled connection. Tokio's default (512) lets a burst of reads park hundreds of threads on
/// an 8-connection pool. A larger `database.readers` raises it: see [`blocking_threads`].
pub const BLOCKING_THREADS_MAX: usize = 32;
pub const BLOCKING_THREADS_SPARE: usize = 8;

/// The runtime's blocking threads for `readers` pooled read connections: never fewer than one
/// per reader plus the spare, so every connection of the pool can be in use at once.
pub const fn blocking_threads(readers: u32) -> usize {
    let needed = readers as usize + BLOCKING_THREADS_SPARE;
    if needed > BLOCKING_THREADS_MAX {
        needed
    } else {
        BLOCKING_THREADS_MAX
    }
}

/// The writer's page cache, in KiB (32 MiB): it touches the hot ledger and index pages on every
/// commit. Readers keep SQLite's 2 MiB default; the OS page cache holds the rest, shared.
pub const WRITER_CACHE_KIB: i64 = 32 * 1024;

/// Prepared statements kept per connection (rusqlite's default is 16): room for every statement
/// a connection prepares (lists build one per filter combination and account count), so the
/// hot ones are never evicted and re-parsed.
pub const STATEMENT_CACHE_CAPACITY: usize = 128;

/// How often the writer copies new audit rows into the audit filter tables (migration V4):
/// often enough that each copy is small (a few ms at most), rarely enough that an actor's
/// entries from many batches share a page.
pub const AUDIT_INDEXING_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// How often expired idempotency keys and tokens are swept, and how many rows one write
/// deletes: small batches keep each write short, so pruning never holds up money movement.
pub const PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);
pub const PRUNE_BATCH_ROWS: u32 = 1_000;

const _: () = assert!(PAGE_SIZE_DEFAULT <= PAGE_SIZE_MAX);
const _: () = assert!(AMOUNT_CENTS_MAX < BALANCE_CENTS_MAX);
const _: () = assert!(AMOUNT_DECIMAL_PLACES_MAX < AMOUNT_DIGITS_MAX);
// 12 digits with 2 decimals is exactly 9,999,999,999.99.
const _: () = assert!(AMOUNT_CENTS_MAX == 10_i64.pow(AMOUNT_DIGITS_MAX) - 1);
// Adding the largest amount to the largest balance must not overflow an i64.
const _: () = assert!(BALANCE_CENTS_MAX.checked_add(AMOUNT_CENTS_MAX).is_some());
const _: () = assert!(WRITE_BATCH_JOBS_MAX <= WRITE_QUEUE_JOBS_MAX);
const _: () = assert!(TOKEN_BYTES * 8 >= 160);
// The default pool gets the default blocking threads, unchanged: one per reader and the spare.
const _: () = assert!(blocking_threads(DATABASE_READERS_DEFAULT) == BLOCKING_THREADS_MAX);
const _: () =
    assert!(DATABASE_READERS_DEFAULT as usize + BLOCKING_THREADS_SPARE <= BLOCKING_THREADS_MAX);
// Statement work holds a reader for a while: the default leaves at least half the default pool
// for everything else.
const _: () = assert!(STATEMENTS_CONCURRENT_DEFAULT * 2 <= DATABASE_READERS_DEFAULT as usize);
// A request waiting for SQLite's lock, or for a statement turn, gets that error before the
// request timeout turns it into an anonymous 503.
const _: () = assert!((SQLITE_BUSY_TIMEOUT_MS as u64) < REQUEST_TIMEOUT_SECONDS_DEFAULT * 1_000);
const _: () = assert!(STATEMENTS_QUEUE_WAIT_MS_DEFAULT < REQUEST_TIMEOUT_SECONDS_DEFAULT * 1_000);
// A client that dribbles its request head (slowloris) holds a connection slot for less time
// than the server would spend answering a real request.
const _: () = assert!(HEADER_READ_TIMEOUT_SECONDS_DEFAULT < REQUEST_TIMEOUT_SECONDS_DEFAULT);
// Pruning stops looping on a batch smaller than this: zero would loop forever.
const _: () = assert!(PRUNE_BATCH_ROWS > 0);

/// The relationships between configured values that the configuration table cannot check key
/// by key; `App::build` refuses a configuration that breaks one.
pub fn check_config(config: &crate::config::Config) -> Result<(), String> {
    if config.write_batch_max > config.write_queue_max {
        return Err(format!(
            "configuration error: database.write_batch_max ({}) must not exceed \
             database.write_queue_max ({}): a batch is taken from the queue",
            config.write_batch_max, config.write_queue_max
        ));
    }
    Ok(())
}

/// Terms in a `?search=` (DRF's `SearchFilter`); each term is one more `LIKE` per row scanned.
pub const SEARCH_TERMS_MAX: usize = 10;
/// Matching transactions a `?ordering=` outside the ledger's clustered order (`amount`,
/// `transaction_type`) may sort. Such an ordering reads and sorts every matching row, so past
/// this the client is asked to narrow the list with filters first.
pub const ORDERING_SORT_ROWS_MAX: u64 = 100_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blocking_threads_cover_every_reader_the_configuration_allows() {
        for readers in [1, DATABASE_READERS_DEFAULT, 24, 25, 100, 256] {
            let threads = blocking_threads(readers);
            assert!(
                threads >= readers as usize + BLOCKING_THREADS_SPARE,
                "{readers}"
            );
            assert!(threads >= BLOCKING_THREADS_MAX, "{readers}");
        }
    }

    #[test]
    fn a_write_batch_larger_than_the_write_queue_is_refused() {
        let mut config = crate::config::Config::default();
        assert_eq!(check_config(&config), Ok(()));
        config.write_queue_max = 10;
        config.write_batch_max = 10;
        assert_eq!(check_config(&config), Ok(()));
        config.write_batch_max = 11;
        let error = check_config(&config).expect_err("refused");
        assert!(error.contains("database.write_batch_max"), "{error}");
    }
}
