//! The table of configuration keys: each key's name in `bank.toml`, its `BANKD_*` variable
//! and the parser that validates it. File, environment and flags all go through this table.

use std::fmt;
use std::path::PathBuf;

use super::values::{IpNet, PublicUrl, list, secret};
use super::{Config, LogFormat};

/// One configuration key: its name in `bank.toml`, its environment variable and its parser.
pub(super) struct Key {
    pub(super) name: &'static str,
    pub(super) env: &'static str,
    pub(super) set: fn(&mut Config, &str) -> Result<(), String>,
}

pub(super) const KEYS: &[Key] = &[
    Key {
        name: "server.listen",
        env: "BANKD_LISTEN",
        set: |c, v| parse_into(&mut c.listen, v, "a socket address such as 127.0.0.1:8000"),
    },
    Key {
        name: "database.path",
        env: "BANKD_DATABASE",
        set: |c, v| {
            if v.is_empty() {
                return Err("must not be empty".to_owned());
            }
            c.database_path = PathBuf::from(v);
            Ok(())
        },
    },
    Key {
        name: "database.readers",
        env: "BANKD_DATABASE_READERS",
        set: |c, v| positive(&mut c.database_readers, v, 256),
    },
    Key {
        name: "auth.token_ttl_seconds",
        env: "BANKD_AUTH_TOKEN_TTL_SECONDS",
        set: |c, v| positive(&mut c.token_ttl_seconds, v, 10 * 365 * 86_400),
    },
    Key {
        name: "jwt.access_ttl_seconds",
        env: "BANKD_JWT_ACCESS_TTL_SECONDS",
        set: |c, v| positive(&mut c.jwt_access_ttl_seconds, v, 365 * 86_400),
    },
    Key {
        name: "jwt.refresh_ttl_seconds",
        env: "BANKD_JWT_REFRESH_TTL_SECONDS",
        set: |c, v| positive(&mut c.jwt_refresh_ttl_seconds, v, 365 * 86_400),
    },
    Key {
        name: "throttle.auth_per_ip_per_minute",
        env: "BANKD_THROTTLE_AUTH_PER_IP_PER_MINUTE",
        set: |c, v| bounded(&mut c.throttle_auth_per_ip_per_minute, v, 0, 1_000_000),
    },
    Key {
        name: "throttle.failed_logins_per_user_per_minute",
        env: "BANKD_THROTTLE_FAILED_LOGINS_PER_USER_PER_MINUTE",
        set: |c, v| {
            bounded(
                &mut c.throttle_failed_logins_per_user_per_minute,
                v,
                0,
                1_000_000,
            )
        },
    },
    Key {
        name: "throttle.movements_per_user_per_minute",
        env: "BANKD_THROTTLE_MOVEMENTS_PER_USER_PER_MINUTE",
        set: |c, v| {
            bounded(
                &mut c.throttle_movements_per_user_per_minute,
                v,
                0,
                1_000_000,
            )
        },
    },
    Key {
        name: "limits.max_accounts_per_customer",
        env: "BANKD_LIMITS_MAX_ACCOUNTS_PER_CUSTOMER",
        set: |c, v| positive(&mut c.max_accounts_per_customer, v, 10_000),
    },
    Key {
        name: "server.trusted_proxies",
        env: "BANKD_SERVER_TRUSTED_PROXIES",
        set: |c, v| {
            c.trusted_proxies = list(v)
                .map(|item| {
                    IpNet::parse(item)
                        .ok_or_else(|| format!("{item:?} is not an IP address or CIDR"))
                })
                .collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Key {
        name: "server.allowed_hosts",
        env: "BANKD_SERVER_ALLOWED_HOSTS",
        set: |c, v| {
            c.allowed_hosts = list(v)
                .map(|pattern| {
                    let body = pattern.strip_prefix('.').unwrap_or(pattern);
                    let valid = pattern == "*"
                        || crate::http::host::host_name(body).is_some_and(|name| name == body);
                    if valid {
                        Ok(pattern.to_owned())
                    } else {
                        Err(format!(
                            "{pattern:?} is not a host name such as bank.example.com, .example.com or *"
                        ))
                    }
                })
                .collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Key {
        name: "server.public_url",
        env: "BANKD_SERVER_PUBLIC_URL",
        set: |c, v| {
            c.public_url = if v.is_empty() {
                None
            } else {
                Some(PublicUrl::parse(v)?)
            };
            Ok(())
        },
    },
    Key {
        name: "cors.allowed_origins",
        env: "BANKD_CORS_ALLOWED_ORIGINS",
        set: |c, v| {
            c.cors_allowed_origins = list(v)
                .map(|origin| {
                    let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                        && !origin.ends_with('/')
                        && origin.bytes().all(|b| b.is_ascii_graphic());
                    if valid {
                        Ok(origin.to_owned())
                    } else {
                        Err(format!(
                            "{origin:?} is not an origin like https://app.example.com"
                        ))
                    }
                })
                .collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Key {
        name: "database.write_batch_max",
        env: "BANKD_DATABASE_WRITE_BATCH_MAX",
        set: |c, v| positive(&mut c.write_batch_max, v, 10_000),
    },
    Key {
        name: "database.write_queue_max",
        env: "BANKD_DATABASE_WRITE_QUEUE_MAX",
        set: |c, v| positive(&mut c.write_queue_max, v, 1_000_000),
    },
    Key {
        name: "jwt.secret",
        env: "BANKD_JWT_SECRET",
        set: |c, v| {
            c.jwt_secret = secret(v, "jwt.secret")?;
            Ok(())
        },
    },
    Key {
        name: "cards.hash_key",
        env: "BANKD_CARDS_HASH_KEY",
        set: |c, v| {
            c.cards_hash_key = secret(v, "cards.hash_key")?;
            Ok(())
        },
    },
    Key {
        name: "cards.iin_prefix",
        env: "BANKD_CARDS_IIN_PREFIX",
        set: |c, v| {
            if v.len() != 6 || !v.bytes().all(|b| b.is_ascii_digit()) || v.starts_with('0') {
                return Err(format!("must be six digits not starting with 0, got {v:?}"));
            }
            c.cards_iin_prefix = v.to_owned();
            Ok(())
        },
    },
    Key {
        name: "cards.validity_years",
        env: "BANKD_CARDS_VALIDITY_YEARS",
        set: |c, v| positive(&mut c.cards_validity_years, v, 20),
    },
    Key {
        name: "cards.max_per_account",
        env: "BANKD_CARDS_MAX_PER_ACCOUNT",
        set: |c, v| positive(&mut c.cards_max_per_account, v, 100),
    },
    Key {
        name: "limits.max_credit_limit",
        env: "BANKD_LIMITS_MAX_CREDIT_LIMIT",
        set: |c, v| {
            let cents = crate::domain::Amount::parse(v)
                .map_err(|e| format!("{e} (a decimal such as \"50000.00\")"))?;
            c.max_credit_limit_cents = cents.cents();
            Ok(())
        },
    },
    Key {
        name: "log.format",
        env: "BANKD_LOG_FORMAT",
        set: |c, v| {
            c.log_format = match v {
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                _ => return Err(format!("must be \"pretty\" or \"json\", not {v:?}")),
            };
            Ok(())
        },
    },
    Key {
        name: "log.level",
        env: "BANKD_LOG_LEVEL",
        set: |c, v| {
            tracing_subscriber::EnvFilter::try_new(v)
                .map_err(|e| format!("not a log filter ({e})"))?;
            c.log_level = v.to_owned();
            Ok(())
        },
    },
];

fn parse_into<T: std::str::FromStr>(
    slot: &mut T,
    value: &str,
    expected: &str,
) -> Result<(), String> {
    *slot = value
        .parse()
        .map_err(|_| format!("expected {expected}, got {value:?}"))?;
    Ok(())
}

fn bounded<T>(slot: &mut T, value: &str, min: T, max: T) -> Result<(), String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let parsed: T = value
        .parse()
        .map_err(|_| format!("expected a whole number, got {value:?}"))?;
    if parsed < min || parsed > max {
        return Err(format!("must be between {min} and {max}, got {parsed}"));
    }
    *slot = parsed;
    Ok(())
}

fn positive<T>(slot: &mut T, value: &str, max: T) -> Result<(), String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy + From<u8>,
{
    bounded(slot, value, T::from(1), max)
}
