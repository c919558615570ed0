//! Configuration: built-in defaults < `bank.toml` < `BANKD_*` environment < command-line flags.
//!
//! Every key is declared once in `KEYS` with its environment variable and a parser, so the file,
//! the environment and the flags all go through the same validation. A bad or unknown value
//! stops start-up with one line naming the key and where the value came from.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod keys;
mod values;

use keys::KEYS;
pub use values::{IpNet, PublicUrl, Secret};

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The validated configuration every subcommand starts from.
#[derive(Clone, Debug)]
pub struct Config {
    /// `server.listen`: the address to serve on.
    pub listen: SocketAddr,
    /// `server.header_read_timeout_seconds`: a connection that has not sent a whole request
    /// head within this time (including an idle keep-alive connection) is closed.
    pub header_read_timeout_seconds: u64,
    /// `server.request_timeout_seconds`: a request not answered within this time gets `503`.
    pub request_timeout_seconds: u64,
    /// `server.max_connections`: open connections at once; further ones wait in the backlog.
    pub max_connections: usize,
    /// `server.shutdown_grace_seconds`: after SIGTERM, how long in-flight requests may finish
    /// before the remaining connections are closed.
    pub shutdown_grace_seconds: u64,
    /// `metrics.token`: when set, `/metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
    /// `database.path`: the SQLite file.
    pub database_path: PathBuf,
    /// `database.readers`: read connections in the pool.
    pub database_readers: u32,
    /// `auth.token_ttl_seconds`: lifetime of an opaque token.
    pub token_ttl_seconds: u64,
    /// `jwt.access_ttl_seconds` / `jwt.refresh_ttl_seconds`: JWT lifetimes.
    pub jwt_access_ttl_seconds: u64,
    pub jwt_refresh_ttl_seconds: u64,
    /// `throttle.*`: requests per minute; 0 turns a limit off.
    pub throttle_auth_per_ip_per_minute: u32,
    pub throttle_failed_logins_per_user_per_minute: u32,
    pub throttle_movements_per_user_per_minute: u32,
    /// `limits.max_accounts_per_customer`: open (not closed) accounts per customer.
    pub max_accounts_per_customer: u32,
    /// `server.trusted_proxies`: peers whose `X-Forwarded-For` is believed (IPs or CIDRs).
    pub trusted_proxies: Vec<IpNet>,
    /// `server.allowed_hosts`: the `Host` names served (Django's `ALLOWED_HOSTS` rules:
    /// `.example.com` covers subdomains, `*` anything); others answer `400 invalid_host`.
    pub allowed_hosts: Vec<String>,
    /// `server.public_url`: where clients reach this server; links are built from it.
    pub public_url: Option<PublicUrl>,
    /// `cors.allowed_origins`: origins allowed to call the API from a browser (none by default).
    pub cors_allowed_origins: Vec<String>,
    /// `database.write_batch_max` / `database.write_queue_max`: group-commit batch size and
    /// queue bound (a full queue answers `503`).
    pub write_batch_max: usize,
    pub write_queue_max: usize,
    /// `jwt.secret`: HS256 key; generated and kept in the database when empty.
    pub jwt_secret: Option<Secret>,
    /// `cards.hash_key`: HMAC key for card numbers and CVVs; generated and kept in the database
    /// when empty.
    pub cards_hash_key: Option<Secret>,
    /// `cards.iin_prefix`: the first six digits of every card number.
    pub cards_iin_prefix: String,
    /// `cards.validity_years`: a card expires this many years after its issue month.
    pub cards_validity_years: u32,
    /// `cards.max_per_account`: cards (not cancelled) per account.
    pub cards_max_per_account: u32,
    /// `limits.max_credit_limit`: the largest credit limit, in cents.
    pub max_credit_limit_cents: i64,
    /// `statements.concurrent_max`: statements generated, paged or streamed at once.
    pub statements_concurrent_max: usize,
    /// `statements.queue_wait_ms`: how long a statement request waits for a turn before `503`.
    pub statements_queue_wait_ms: u64,
    /// `log.format` and `log.level` (a `tracing` filter such as `info` or `bankd=debug`).
    pub log_format: LogFormat,
    pub log_level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            header_read_timeout_seconds: crate::limits::HEADER_READ_TIMEOUT_SECONDS_DEFAULT,
            request_timeout_seconds: crate::limits::REQUEST_TIMEOUT_SECONDS_DEFAULT,
            max_connections: 1_000,
            shutdown_grace_seconds: 10,
            metrics_token: None,
            database_path: PathBuf::from("./bank.db"),
            database_readers: crate::limits::DATABASE_READERS_DEFAULT,
            token_ttl_seconds: 604_800,
            jwt_access_ttl_seconds: 300,
            jwt_refresh_ttl_seconds: 86_400,
            throttle_auth_per_ip_per_minute: 20,
            throttle_failed_logins_per_user_per_minute: 10,
            throttle_movements_per_user_per_minute: 0,
            max_accounts_per_customer: 10,
            trusted_proxies: Vec::new(),
            allowed_hosts: ["localhost", ".localhost", "127.0.0.1", "[::1]"]
                .map(str::to_owned)
                .to_vec(),
            public_url: None,
            cors_allowed_origins: Vec::new(),
            write_batch_max: crate::limits::WRITE_BATCH_JOBS_MAX,
            write_queue_max: crate::limits::WRITE_QUEUE_JOBS_MAX,
            jwt_secret: None,
            cards_hash_key: None,
            cards_iin_prefix: "400000".to_owned(),
            cards_validity_years: 4,
            cards_max_per_account: 5,
            max_credit_limit_cents: 5_000_000,
            statements_concurrent_max: crate::limits::STATEMENTS_CONCURRENT_DEFAULT,
            statements_queue_wait_ms: crate::limits::STATEMENTS_QUEUE_WAIT_MS_DEFAULT,
            log_format: LogFormat::Pretty,
            log_level: "info".to_owned(),
        }
    }
}

/// A configuration error: one line naming the key and the source of the bad value.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Values given on the command line, applied last.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database: Option<String>,
}

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "bank.toml";

impl Config {
    /// Builds the configuration from every source, in precedence order. `env` looks up an
    /// environment variable (a parameter so tests need not touch the process environment).
    pub fn load(
        config_file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        let file = match config_file {
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        if let Some(path) = file {
            config.apply_file(&path)?;
        }
        for key in KEYS {
            if let Some(value) = env(key.env) {
                (key.set)(&mut config, &value)
                    .map_err(|e| ConfigError(format!("{} (from {}): {e}", key.name, key.env)))?;
            }
        }
        let flags = [
            ("server.listen", "--listen", &overrides.listen),
            ("database.path", "--database", &overrides.database),
        ];
        for (name, flag, value) in flags {
            if let Some(value) = value {
                config
                    .set(name, value)
                    .map_err(|e| ConfigError(format!("{name} (from {flag}): {e}")))?;
            }
        }
        Ok(config)
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let key = KEYS.iter().find(|k| k.name == name).ok_or("unknown key")?;
        (key.set)(self, value)
    }

    fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let origin = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {origin}: {e}")))?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError(format!("{origin} is not valid TOML: {}", e.message()))
        })?;
        for (section, entries) in table {
            let entries = entries.as_table().ok_or_else(|| {
                ConfigError(format!(
                    "{section} (in {origin}): expected a [{section}] section"
                ))
            })?;
            for (key, value) in entries {
                let name = format!("{section}.{key}");
                let text = match value {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|item| {
                            item.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| item.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                self.set(&name, &text)
                    .map_err(|e| ConfigError(format!("{name} (in {origin}): {e}")))?;
            }
        }
        Ok(())
    }
}

/// `BANKD_*` variables that are not configuration keys but are still expected: the
/// `createsuperuser` password, and the variables of bankd's own test and benchmark tooling
/// (which start the binary with their environment inherited).
const OTHER_KNOWN_VARIABLES: &[&str] = &[
    "BANKD_SUPERUSER_PASSWORD",
    "BANKD_BIN",
    "BANKD_UPDATE_DOCS",
    "BANKD_GENERATOR",
];

/// The `BANKD_*` names among `names` that bankd does not read, sorted: most likely typos,
/// which would otherwise be ignored in silence. `BANKD_BENCH_*` belongs to `bench/run.sh`.
pub fn unknown_environment_variables<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut unknown: Vec<String> = names
        .filter(|name| name.starts_with("BANKD_") && !name.starts_with("BANKD_BENCH_"))
        .filter(|name| !KEYS.iter().any(|key| key.env == *name))
        .filter(|name| !OTHER_KNOWN_VARIABLES.contains(name))
        .map(str::to_owned)
        .collect();
    unknown.sort();
    unknown.dedup();
    unknown
}

/// Every key with its environment variable, for `bank.toml.example` checks and docs.
pub fn documented_keys() -> impl Iterator<Item = (&'static str, &'static str)> {
    KEYS.iter().map(|k| (k.name, k.env))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(
        file: Option<&str>,
        env: &[(&str, &str)],
        overrides: Overrides,
    ) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bank.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).expect("write");
        }
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(
            file.map(|_| path.as_path()),
            |k| env.get(k).cloned(),
            &overrides,
        )
    }

    #[test]
    fn precedence_is_defaults_file_env_flags() {
        let file = "[server]\nlisten = \"127.0.0.1:1111\"\n[limits]\nmax_accounts_per_customer = 3\n[database]\npath = \"file.db\"";
        let config = load(Some(file), &[], Overrides::default()).expect("valid");
        assert_eq!(config.listen.port(), 1111);
        assert_eq!(config.max_accounts_per_customer, 3);

        let config = load(
            Some(file),
            &[
                ("BANKD_LISTEN", "127.0.0.1:2222"),
                ("BANKD_DATABASE", "env.db"),
            ],
            Overrides::default(),
        )
        .expect("valid");
        assert_eq!(config.listen.port(), 2222);
        assert_eq!(config.database_path, PathBuf::from("env.db"));

        let flags = Overrides {
            listen: Some("127.0.0.1:3333".into()),
            database: None,
        };
        let config = load(Some(file), &[("BANKD_LISTEN", "127.0.0.1:2222")], flags).expect("valid");
        assert_eq!(config.listen.port(), 3333);
        assert_eq!(config.database_path, PathBuf::from("file.db"));
    }

    #[test]
    fn bad_values_name_their_key_and_source() {
        let error = load(
            Some("[server]\nlisten = \"nope\""),
            &[],
            Overrides::default(),
        )
        .expect_err("invalid");
        assert!(error.to_string().contains("server.listen (in "), "{error}");
        let error = load(
            None,
            &[("BANKD_LIMITS_MAX_ACCOUNTS_PER_CUSTOMER", "0")],
            Overrides::default(),
        )
        .expect_err("invalid");
        assert!(
            error.to_string().contains(
                "limits.max_accounts_per_customer (from BANKD_LIMITS_MAX_ACCOUNTS_PER_CUSTOMER)"
            ),
            "{error}"
        );
        let error =
            load(Some("[server]\nlisen = \"x\""), &[], Overrides::default()).expect_err("unknown");
        assert!(error.to_string().contains("server.lisen"), "{error}");
        let error =
            load(None, &[("BANKD_LOG_FORMAT", "xml")], Overrides::default()).expect_err("invalid");
        assert!(error.to_string().contains("log.format"), "{error}");
    }

    #[test]
    fn unknown_bankd_variables_are_named_and_known_ones_are_not() {
        let names = [
            "BANKD_LISTEN",
            "BANKD_LISTNE",
            "BANKD_SUPERUSER_PASSWORD",
            "BANKD_BENCH_DIR",
            "PATH",
            "BANKD_SERVER_MAX_CONECTIONS",
        ];
        assert_eq!(
            unknown_environment_variables(names.into_iter()),
            vec!["BANKD_LISTNE", "BANKD_SERVER_MAX_CONECTIONS"]
        );
    }

    #[test]
    fn connection_limits_parse_and_zero_is_refused_where_it_means_nothing() {
        let config = load(
            None,
            &[
                ("BANKD_SERVER_HEADER_READ_TIMEOUT_SECONDS", "2"),
                ("BANKD_SERVER_MAX_CONNECTIONS", "3"),
                ("BANKD_SERVER_SHUTDOWN_GRACE_SECONDS", "0"),
            ],
            Overrides::default(),
        )
        .expect("valid");
        assert_eq!(config.header_read_timeout_seconds, 2);
        assert_eq!(config.max_connections, 3);
        assert_eq!(config.shutdown_grace_seconds, 0);
        for variable in [
            "BANKD_SERVER_HEADER_READ_TIMEOUT_SECONDS",
            "BANKD_SERVER_REQUEST_TIMEOUT_SECONDS",
            "BANKD_SERVER_MAX_CONNECTIONS",
        ] {
            let error = load(None, &[(variable, "0")], Overrides::default()).expect_err("zero");
            assert!(error.to_string().contains(variable), "{error}");
        }
        let error = load(
            None,
            &[("BANKD_METRICS_TOKEN", "short")],
            Overrides::default(),
        )
        .expect_err("short token");
        assert!(!error.to_string().contains("short"), "{error}");
    }

    #[test]
    fn trusted_proxies_and_origins_parse() {
        let config = load(Some("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n[cors]\nallowed_origins = [\"https://app.example.com\"]"), &[], Overrides::default()).expect("valid");
        assert!(config.trusted_proxies[0].contains("10.1.2.3".parse().expect("ip")));
        assert!(!config.trusted_proxies[0].contains("11.1.2.3".parse().expect("ip")));
        assert!(config.trusted_proxies[1].contains("::1".parse().expect("ip")));
        assert_eq!(config.cors_allowed_origins, vec!["https://app.example.com"]);
        let error = load(
            None,
            &[("BANKD_SERVER_TRUSTED_PROXIES", "10.0.0.0/33")],
            Overrides::default(),
        )
        .expect_err("invalid");
        assert!(
            error.to_string().contains("server.trusted_proxies"),
            "{error}"
        );
        let error = load(None, &[("BANKD_JWT_SECRET", "short")], Overrides::default())
            .expect_err("invalid");
        assert!(
            error.to_string().contains("jwt.secret") && !error.to_string().contains("short"),
            "{error}"
        );
    }

    #[test]
    fn the_example_file_documents_every_key_and_loads() {
        let example = include_str!("../../bank.toml.example");
        for (name, env) in documented_keys() {
            let key = name.split_once('.').map(|(_, k)| k).unwrap_or(name);
            assert!(
                example.contains(key) && example.contains(env),
                "{name} / {env} undocumented"
            );
        }
        load(Some(example), &[], Overrides::default()).expect("example loads");
    }
}
