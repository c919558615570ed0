//! The command line: `serve`, `migrate`, `createsuperuser`, `changepassword`, `verify`,
//! `backup`, `restore`, `copy` (clap).
//!
//! Every subcommand that touches the database accepts `--database`; `serve` also `--listen`.
//! Both also come from `BANKD_DATABASE` / `BANKD_LISTEN` and `bank.toml` (see `config.rs`).
//!
//! The database work is the store's: user commands are `Store` methods on a store opened for
//! the command (`Store::open_for_command`), and the file-level maintenance (migrate, backup,
//! restore, verify, the in-use claim) is in `store/maintenance.rs`, chosen by the configuration.
//! This module parses, prompts and prints.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::app::App;
use crate::config::{Config, Overrides};
use crate::domain::password::{Password, UserAttributes};
use crate::domain::profile::{Email, Username};
use crate::error::ApiError;
use crate::store::Store;
use crate::store::audit::AuditContext;
use crate::store::maintenance::AuditHead;
use crate::store::users::{ChangePassword, ChangedBy, NewSuperuser};

#[derive(Parser, Debug)]
#[command(
    name = "bankd",
    version,
    about = "A bank's REST API server on embedded SQLite"
)]
pub struct Cli {
    /// Configuration file [default: ./bank.toml when present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending migrations, then serve the API and console
    Serve {
        /// Address to listen on [env: BANKD_LISTEN] [default: 127.0.0.1:8000]
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Apply pending migrations and list what was applied
    Migrate {
        /// Show every migration as applied or pending, and apply nothing
        #[arg(long)]
        list: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Create a superuser (staff) account
    Createsuperuser {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        email: String,
        /// Read the password from standard input (else BANKD_SUPERUSER_PASSWORD, else a prompt)
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Set a user's password and end every one of its sessions (tokens and JWTs)
    Changepassword {
        /// The user, matched case-insensitively
        username: String,
        /// Read the password from standard input (else BANKD_SUPERUSER_PASSWORD, else a prompt)
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Check the ledger invariants, the audit chain and SQLite's integrity (exit 1 unless sound)
    Verify {
        /// The audit chain head printed by an earlier verify (ID:HASH): fail if that row is gone
        /// or changed, which is how rows cut off the chain's end are caught
        #[arg(long, value_name = "ID:HASH")]
        audit_head: Option<String>,
        /// Print the report as one JSON document (shape in docs/DEPLOYMENT.md); same exit status
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Copy the live database to FILE with SQLite's online backup API
    Backup {
        /// Where to write the copy
        file: PathBuf,
        /// Replace FILE if it already exists
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Replace the database with a backup: verify it, refuse while bankd uses the database,
    /// keep the old one as DATABASE.before-restore-<time>, swap atomically, verify the result
    Restore {
        /// The backup file to restore (it is copied, never moved or changed)
        backup: PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Copy a whole bank into an empty database (each a SQLite path or a postgres:// URL),
    /// preserving ids, hashes, tokens and the audit chain, then verify the target
    Copy {
        /// The bank to copy: a SQLite file or a postgres:// / postgresql:// URL
        from: String,
        /// The empty target: a SQLite file (missing, or without rows) or a PostgreSQL URL
        to: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct DatabaseArg {
    /// SQLite database file [env: BANKD_DATABASE] [default: ./bank.db]
    #[arg(long, value_name = "PATH")]
    pub database: Option<String>,
}

impl Cli {
    /// Builds the configuration from every source, with this command's flags on top.
    pub fn config(&self) -> Result<Config, String> {
        let (listen, database) = match &self.command {
            Command::Serve { listen, database } => (listen.clone(), database.database.clone()),
            Command::Migrate { database, .. }
            | Command::Createsuperuser { database, .. }
            | Command::Changepassword { database, .. }
            | Command::Verify { database, .. }
            | Command::Backup { database, .. }
            | Command::Restore { database, .. } => (None, database.database.clone()),
            Command::Copy { .. } => (None, None),
        };
        Config::load(
            self.config.as_deref(),
            |key| std::env::var(key).ok(),
            &Overrides { listen, database },
        )
        .map_err(|e| e.to_string())
    }
}

/// Runs the command; `Err` is one line for stderr and exit status 1.
pub async fn run(cli: Cli, config: Config) -> Result<(), String> {
    match cli.command {
        Command::Serve { .. } => serve(config).await,
        Command::Migrate { list, .. } => migrate_command(&config, list),
        Command::Createsuperuser {
            username,
            email,
            password_stdin,
            ..
        } => createsuperuser(&config, &username, &email, password_stdin).await,
        Command::Changepassword {
            username,
            password_stdin,
            ..
        } => changepassword(&config, &username, password_stdin).await,
        Command::Verify {
            audit_head, json, ..
        } => verify_command(&config, audit_head.as_deref(), json),
        Command::Backup { file, force, .. } => {
            let summary = Store::backup(&config, &file, force)?;
            println!("{summary}");
            Ok(())
        }
        Command::Restore { backup, .. } => restore_command(&config, &backup),
        Command::Copy { from, to } => copy_command(&from, &to).await,
    }
}

/// `bankd copy FROM TO` (`store::copy`): progress on stderr, then the target's verify report.
async fn copy_command(from: &str, to: &str) -> Result<(), String> {
    use crate::store::copy;
    let (from, to) = (copy::Endpoint::parse(from)?, copy::Endpoint::parse(to)?);
    eprintln!("Copying {} to {}", from.describe(), to.describe());
    let copied = copy::copy(&from, &to).await?;
    let rows: u64 = copied.tables.iter().map(|(_, rows)| rows).sum();
    println!(
        "Copied {rows} rows in {} tables from {} to {}.",
        copied.tables.len(),
        from.describe(),
        to.describe()
    );
    let target = to.describe();
    let report = copy::verify_target(to).await?;
    println!("{report}");
    if report.is_sound() {
        Ok(())
    } else {
        Err(format!("the copy in {target} does not verify"))
    }
}

/// Prints the report (as text, or JSON with `--json`); a database that is not sound is an
/// error, hence exit status 1. With `--json` even a database that cannot be checked at all
/// prints a JSON document, so a script always has one to parse.
fn verify_command(config: &Config, audit_head: Option<&str>, json: bool) -> Result<(), String> {
    let report = audit_head
        .map(|text| {
            AuditHead::parse(text).ok_or_else(|| {
                format!("--audit-head must be ID:HASH (64 hex digits), got {text:?}")
            })
        })
        .transpose()
        .and_then(|recorded| Store::verify(config, recorded.as_ref()));
    let report = match report {
        Ok(report) => report,
        Err(error) if json => {
            println!("{}", Store::verify_error_json(config, &error));
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    if json {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    if report.is_sound() {
        Ok(())
    } else {
        Err(format!(
            "verification failed: {} of {} checks found problems",
            report.failed_count(),
            report.checks.len()
        ))
    }
}

/// Restores a backup (`Store::restore`) and prints what it checked and kept.
fn restore_command(config: &Config, backup: &Path) -> Result<(), String> {
    let database = &config.database_path;
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let restored = match Store::restore(config, backup, &now) {
        Ok(restored) => restored,
        Err(error) => {
            if let Some(report) = error.backup_report {
                println!("{report}");
            }
            return Err(error.message);
        }
    };
    println!("{}", restored.backup_report);
    match &restored.kept_aside {
        Some(aside) => println!("Kept the replaced database as {}.", aside.display()),
        None => println!("There was no database at {} to keep.", database.display()),
    }
    println!("Restored {} to {}.", backup.display(), database.display());
    println!("{}", restored.restored_report);
    if restored.restored_report.is_sound() {
        Ok(())
    } else {
        Err(format!(
            "the restored database {} does not verify; the backup is unchanged",
            database.display()
        ))
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let listen = config.listen;
    let started = std::time::Instant::now();
    crate::http::host::warn_if_only_local_names(&config);
    // Held until the server stops: `bankd restore` refuses to replace a database in use.
    let mut in_use = Store::claim_in_use(&config)?;
    let app = App::build(config)?;
    if !in_use.is_held() {
        // The database was just created: claim it now that it exists.
        in_use = Store::claim_in_use(&app.state.config)?;
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    // Installed before the banner, so a signal sent as soon as the URL is printed is handled.
    let shutdown = crate::server::shutdown_signal()
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    tracing::info!(url = %format!("http://{address}/"), startup_ms = started.elapsed().as_millis() as u64, "bankd ready");
    // The URL on stdout is the contract with scripts (and the tests) that start bankd on port 0.
    println!("bankd listening on http://{address}/");
    app.run(listener, shutdown)
        .await
        .map_err(|e| format!("server error: {e}"))?;
    drop(in_use);
    tracing::info!("bankd stopped");
    Ok(())
}

fn migrate_command(config: &Config, list: bool) -> Result<(), String> {
    if list {
        for state in Store::migrations(config)? {
            println!("[{}] {}", if state.applied { "X" } else { " " }, state.name);
        }
        return Ok(());
    }
    let applied = Store::migrate(config)?;
    if applied.is_empty() {
        println!("No migrations to apply.");
    }
    for name in applied {
        println!("Applied {name}");
    }
    Ok(())
}

async fn createsuperuser(
    config: &Config,
    username: &str,
    email: &str,
    password_stdin: bool,
) -> Result<(), String> {
    let username = Username::parse(username).map_err(|e| format!("username: {e}"))?;
    let email = match email {
        "" => String::new(),
        text => Email::parse(text)
            .map_err(|e| format!("email: {e}"))?
            .as_str()
            .to_owned(),
    };
    let password_text = read_password(password_stdin)?;
    let attributes = UserAttributes {
        username: username.as_str(),
        full_name: "",
        email: &email,
    };
    let password = Password::parse(&password_text, &attributes)
        .map_err(|errors| format!("password: {}", errors.join(" ")))?;
    let _in_use = Store::claim_in_use(config)?;
    let store = Store::open_for_command(config)?;
    let password_hash =
        tokio::task::spawn_blocking(move || crate::auth::hash_blocking(password.expose()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(describe)?;
    let superuser = NewSuperuser {
        username: username.clone(),
        email,
        password_hash,
    };
    let created = store.create_superuser(superuser).await;
    store.shutdown().await;
    created.map_err(describe)?;
    println!("Superuser \"{username}\" created successfully.");
    Ok(())
}

/// `bankd changepassword`: the same password sources and validators as `createsuperuser`; the
/// new hash, the revocation of every token and JWT and the audit row commit together. A server
/// running on the same database sees the revocation within a second (`auth::watch`).
async fn changepassword(
    config: &Config,
    username: &str,
    password_stdin: bool,
) -> Result<(), String> {
    let store = Store::open_for_command(config)?;
    let changed = change_password_in(&store, username, password_stdin).await;
    store.shutdown().await;
    changed?;
    println!("Password changed successfully for user \"{username}\".");
    Ok(())
}

async fn change_password_in(
    store: &Store,
    username: &str,
    password_stdin: bool,
) -> Result<(), String> {
    let owner = store
        .password_owner_named(username.to_owned())
        .await
        .map_err(describe)?
        .ok_or_else(|| format!("user \"{username}\" does not exist"))?;
    let password_text = read_password(password_stdin)?;
    let attributes = UserAttributes {
        username: &owner.username,
        full_name: &owner.full_name,
        email: &owner.email,
    };
    let password = Password::parse(&password_text, &attributes)
        .map_err(|errors| format!("password: {}", errors.join(" ")))?;
    let password_hash =
        tokio::task::spawn_blocking(move || crate::auth::hash_blocking(password.expose()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(describe)?;
    let command = ChangePassword {
        user: owner.user_id,
        password_hash,
        keep: None,
        by: ChangedBy::Cli,
        context: AuditContext {
            client_ip: "cli".to_owned(),
            ..Default::default()
        },
    };
    store.change_password(command).await.map_err(describe)?;
    Ok(())
}

fn read_password(from_stdin: bool) -> Result<String, String> {
    if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read password from stdin: {e}"))?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        return Ok(text.strip_suffix('\r').unwrap_or(text).to_owned());
    }
    if let Ok(password) = std::env::var("BANKD_SUPERUSER_PASSWORD") {
        return Ok(password);
    }
    let first = rpassword::prompt_password("Password: ")
        .map_err(|e| format!("cannot read password: {e}"))?;
    let second = rpassword::prompt_password("Password (again): ")
        .map_err(|e| format!("cannot read password: {e}"))?;
    if first != second {
        return Err("Your passwords didn't match.".to_owned());
    }
    Ok(first)
}

/// An API error as one CLI line.
fn describe(error: ApiError) -> String {
    match error {
        ApiError::Fields(fields) => {
            serde_json::to_string(&fields).unwrap_or_else(|_| "invalid input".to_owned())
        }
        ApiError::Detail { detail, .. } => detail.into_owned(),
        ApiError::Throttled { .. } => "too many attempts; retry later".to_owned(),
        ApiError::Internal(cause) => cause,
    }
}
