//! A PostgreSQL database of a test's own: created with a random name on the server that
//! `BANKD_TEST_DATABASE_URL` names (`.ci/run` starts a throwaway cluster with
//! `tests/pg/cluster.sh` and sets it), dropped by [`PgDatabase::drop_database`].
//!
//! Without the URL a test is skipped — it says so and passes — except under `CI=true`, where
//! the PostgreSQL tests are required and it fails. Every PostgreSQL test binary includes this
//! one file (`#[path = "support/postgres.rs"]`), so that rule and the database's life are
//! written once.

use bankd::store::postgres::connect::{DatabaseUrl, PoolSettings, pool};
use bankd::store::postgres::migrate;
use deadpool_postgres::{Object, Pool};

/// A database of one test's own, with an admin pool (on the server's default database, to drop
/// it) and a pool on it.
pub struct PgDatabase {
    pub name: String,
    /// The database's URL, parsed (for more pools: another "node").
    pub url: DatabaseUrl,
    /// The same URL as text, for a command line.
    pub url_text: String,
    pub admin: Pool,
    pub pool: Pool,
    settings: PoolSettings,
}

impl PgDatabase {
    /// A fresh, empty database; `None` (the test is skipped) without `BANKD_TEST_DATABASE_URL`,
    /// except under `CI=true`.
    pub async fn create(test: &str, settings: PoolSettings) -> Option<Self> {
        let Ok(url) = std::env::var("BANKD_TEST_DATABASE_URL") else {
            let why = format!(
                "PostgreSQL test `{test}` cannot run: BANKD_TEST_DATABASE_URL is not set \
                 (start a server with tests/pg/cluster.sh start DIR)"
            );
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{why}; under CI=true the PostgreSQL tests are required"
            );
            eprintln!("{why}; skipped");
            return None;
        };
        let admin_url = DatabaseUrl::parse(&url).expect("BANKD_TEST_DATABASE_URL parses");
        let admin = pool(&admin_url, settings).expect("admin pool");
        let mut random = [0_u8; 8];
        getrandom::fill(&mut random).expect("random bytes");
        let name = format!("bankd_test_{}", hex::encode(random));
        admin
            .get()
            .await
            .expect("the test server answers")
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        let mut test_url = admin_url.clone();
        test_url.config.dbname(&name);
        let pool = pool(&test_url, settings).expect("test pool");
        Some(Self {
            url_text: with_database(&url, &name),
            name,
            url: test_url,
            admin,
            pool,
            settings,
        })
    }

    /// Like [`PgDatabase::create`], then migrated through the store's own module.
    pub async fn migrated(test: &str, settings: PoolSettings) -> Option<Self> {
        let database = Self::create(test, settings).await?;
        let mut client = database.client().await;
        migrate::run(&mut client).await.expect("migrations apply");
        drop(client);
        Some(database)
    }

    pub async fn client(&self) -> Object {
        self.pool
            .get()
            .await
            .expect("a connection to the test database")
    }

    /// Another pool on the same database: another bankd node.
    pub fn another_pool(&self) -> Pool {
        pool(&self.url, self.settings).expect("another node's pool")
    }

    pub async fn drop_database(self) {
        self.pool.close();
        self.admin
            .get()
            .await
            .expect("the test server answers")
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await
            .expect("DROP DATABASE");
    }
}

/// `url` with its database replaced by `name` (the path after the hosts), keeping the query.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let hosts_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &base[..hosts_end])
}
