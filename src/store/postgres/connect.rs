//! From `database.url` to a pool of PostgreSQL connections.
//!
//! The URL is libpq's (`postgres://` or `postgresql://`), so whatever an operator already uses
//! with `psql` works here: `?host=/run/postgresql` for a unix socket directory, several hosts
//! (`db1:5432,db2:5432`) with `target_session_attrs=read-write` to follow the primary across a
//! failover, `sslmode`, `connect_timeout`, `application_name`, `options`. tokio-postgres parses
//! all of that except the TLS parameters, which it either lacks (`verify-ca`, `verify-full`,
//! `sslrootcert`) or cannot act on (it has no TLS of its own): those two are taken out of the
//! query here, and the rest is handed to tokio-postgres unchanged, so an unknown parameter is
//! refused with its name rather than silently ignored.
//!
//! # TLS
//!
//! rustls with the `ring` provider, chosen explicitly per pool (not rustls' process-wide
//! default, which panics when no provider or two are installed). `sslmode` means what it means
//! to libpq:
//!
//! | sslmode       | TLS            | certificate checked                       |
//! | ------------- | -------------- | ----------------------------------------- |
//! | `disable`     | never          | —                                         |
//! | `prefer`      | if offered     | no (libpq's default; as libpq)            |
//! | `require`     | always         | no; with `sslrootcert`, as `verify-ca`    |
//! | `verify-ca`   | always         | chain to a trusted root, any host name    |
//! | `verify-full` | always         | chain and host name                       |
//!
//! Trust roots are the file `sslrootcert=PATH` names (PEM), else the system's store
//! (rustls-native-certs: `SSL_CERT_FILE`, `/etc/ssl/certs`). libpq's default file
//! `~/.postgresql/root.crt` is not read: a service's home directory is the wrong place for
//! its trust. `sslmode=allow` (plaintext first, TLS if refused) is refused: nobody should want
//! it and tokio-postgres cannot do it. Client certificates are not supported yet.
//!
//! A unix socket never uses TLS, whatever `sslmode` says (as libpq).
//!
//! # Secrets
//!
//! The URL may hold a password. Nothing here prints it: [`DatabaseUrl`]'s `Debug` and
//! [`DatabaseUrl::describe`] show hosts, ports, database and user only.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::{Host, SslMode as WireSslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`, all of it but `allow` (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, String> {
        match value {
            "disable" => Ok(Self::Disable),
            "prefer" => Ok(Self::Prefer),
            "require" => Ok(Self::Require),
            "verify-ca" => Ok(Self::VerifyCa),
            "verify-full" => Ok(Self::VerifyFull),
            "allow" => {
                Err("sslmode=allow is not supported: use prefer, require or verify-full".into())
            }
            other => Err(format!(
                "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            )),
        }
    }

    /// What tokio-postgres is told: whether to ask for TLS and whether to insist. The
    /// certificate checks of the verify modes are the rustls verifier's business.
    fn on_the_wire(self) -> WireSslMode {
        match self {
            Self::Disable => WireSslMode::Disable,
            Self::Prefer => WireSslMode::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => WireSslMode::Require,
        }
    }
}

/// A parsed `database.url`: everything needed to connect, TLS included.
#[derive(Clone)]
pub struct DatabaseUrl {
    /// Every libpq parameter tokio-postgres understands (hosts, ports, user, password, ...),
    /// with the TLS mode already set from [`DatabaseUrl::ssl_mode`].
    pub config: tokio_postgres::Config,
    /// `sslmode` as given, or libpq's default `prefer`.
    pub ssl_mode: SslMode,
    /// `sslrootcert`: a PEM file of trusted roots instead of the system's store.
    pub ssl_root_cert: Option<String>,
}

/// How the pool behaves; `database.pool_size` and `database.statement_timeout` once the
/// configuration has those keys.
#[derive(Clone, Copy, Debug)]
pub struct PoolSettings {
    /// Connections the pool opens at most. Each is a server process on PostgreSQL's side, so
    /// the sum over all nodes must stay under the server's `max_connections`.
    pub pool_size_max: usize,
    /// Sent as `statement_timeout` at connection start (no extra round trip): a statement
    /// stuck behind a lock or a dead primary fails instead of holding its request forever.
    pub statement_timeout: Duration,
    /// How long to wait for a connection, from the pool or from the server, when the URL
    /// sets no `connect_timeout`.
    pub connect_timeout: Duration,
}

/// Whether `url` names a PostgreSQL database (rather than a SQLite path).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl DatabaseUrl {
    /// Parses a libpq URL. The error names the part at fault and never repeats the URL (it may
    /// hold a password).
    pub fn parse(url: &str) -> Result<Self, String> {
        if !is_postgres_url(url) {
            return Err("a PostgreSQL URL starts with postgres:// or postgresql://".into());
        }
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, query),
            None => (url, ""),
        };
        let mut ssl_mode = SslMode::Prefer;
        let mut ssl_root_cert = None;
        let mut passed_on = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, raw_value) = pair
                .split_once('=')
                .ok_or_else(|| "a URL parameter has no `=`".to_owned())?;
            let value = percent_encoding::percent_decode_str(raw_value)
                .decode_utf8()
                .map_err(|_| format!("the URL parameter {key} is not UTF-8"))?;
            match key {
                "sslmode" => ssl_mode = SslMode::parse(&value)?,
                "sslrootcert" => ssl_root_cert = Some(value.into_owned()),
                _ => passed_on.push(pair),
            }
        }
        let rest = if passed_on.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", passed_on.join("&"))
        };
        let mut config: tokio_postgres::Config = rest.parse().map_err(|e| {
            // tokio-postgres says "invalid connection string" and puts which parameter in
            // the source ("unknown option `sslcert`"); neither repeats the URL.
            match std::error::Error::source(&e) {
                Some(cause) => format!("invalid PostgreSQL URL: {e}: {cause}"),
                None => format!("invalid PostgreSQL URL: {e}"),
            }
        })?;
        if config.get_hosts().is_empty() {
            return Err(
                "the PostgreSQL URL names no host (for a socket: ?host=/socket/dir)".into(),
            );
        }
        // libpq: sslrootcert makes `require` check the chain, as verify-ca does.
        if ssl_mode == SslMode::Require && ssl_root_cert.is_some() {
            ssl_mode = SslMode::VerifyCa;
        }
        config.ssl_mode(ssl_mode.on_the_wire());
        Ok(Self {
            config,
            ssl_mode,
            ssl_root_cert,
        })
    }

    /// For logs and the serve banner: `postgres://user@host:port,host:port/dbname`, never the
    /// password.
    pub fn describe(&self) -> String {
        let ports = self.config.get_ports();
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(index, host)| {
                let port = ports
                    .get(index)
                    .or_else(|| ports.first())
                    .copied()
                    .unwrap_or(5432);
                match host {
                    Host::Tcp(name) => format!("{name}:{port}"),
                    Host::Unix(dir) => format!("{}:{port}", dir.display()),
                }
            })
            .collect();
        format!(
            "postgres://{}@{}/{}",
            self.config.get_user().unwrap_or(""),
            hosts.join(","),
            self.config.get_dbname().unwrap_or("")
        )
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("url", &self.describe())
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .finish()
    }
}

/// Builds the pool. Connects lazily: no connection is opened until the first is asked for,
/// so this succeeds while the database is down, and `/readyz` is what tells.
pub fn pool(url: &DatabaseUrl, settings: PoolSettings) -> Result<Pool, String> {
    let mut config = url.config.clone();
    let statement_timeout_ms = settings.statement_timeout.as_millis();
    let options = match config.get_options() {
        Some(given) => format!("{given} -c statement_timeout={statement_timeout_ms}"),
        None => format!("-c statement_timeout={statement_timeout_ms}"),
    };
    config.options(options);
    if config.get_application_name().is_none() {
        config.application_name("bankd");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(settings.connect_timeout);
    }
    let tls = MakeRustlsConnect::new(tls_config(url)?);
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            // A connection that the server closed (restart, failover) is noticed on checkout
            // without a round trip; one that died silently fails its first statement, which the
            // request reports as 503 and the pool then drops.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(settings.pool_size_max)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.connect_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .build()
        .map_err(|e| format!("cannot build the PostgreSQL pool: {e}"))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client configuration for `url.ssl_mode` (see the table in the module docs).
fn tls_config(url: &DatabaseUrl) -> Result<ClientConfig, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = match url.ssl_mode {
        // `disable` never handshakes; `prefer` and `require` encrypt without checking who
        // answers, exactly as libpq does.
        SslMode::Disable | SslMode::Prefer | SslMode::Require => Arc::new(EncryptOnly(provider())),
        SslMode::VerifyCa => Arc::new(ChainOnly(web_pki_verifier(url)?)),
        SslMode::VerifyFull => web_pki_verifier(url)?,
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn web_pki_verifier(url: &DatabaseUrl) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut roots = RootCertStore::empty();
    match &url.ssl_root_cert {
        Some(path) => {
            for certificate in CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {path}: {e}"))?
            {
                let certificate = certificate.map_err(|e| format!("sslrootcert {path}: {e}"))?;
                roots
                    .add(certificate)
                    .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    if roots.is_empty() {
        return Err(format!(
            "sslmode={:?} needs trusted roots, and none were found: set sslrootcert=FILE or \
             install the system's CA certificates",
            url.ssl_mode
        ));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| format!("TLS setup: {e}"))
}

/// `prefer` and `require`: any certificate is accepted, but the handshake's signatures are
/// still checked with it, so the session is at least bound to the key the server presented.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the full web-PKI check, but a certificate for another name passes. webpki
/// checks the name last, after the chain, validity and usage, so `NotValidForName` means
/// everything else held.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tokio_postgres::config::TargetSessionAttrs;

    use super::*;

    fn parse(url: &str) -> DatabaseUrl {
        DatabaseUrl::parse(url).expect("a valid URL")
    }

    #[test]
    fn a_socket_directory_in_the_query_is_a_unix_host() {
        let url = parse("postgres://postgres@/bank?host=/run/postgresql&port=5433");

        assert_eq!(
            url.config.get_hosts(),
            [Host::Unix("/run/postgresql".into())]
        );
        assert_eq!(url.config.get_ports(), [5433]);
        assert_eq!(url.config.get_dbname(), Some("bank"));
        assert_eq!(url.config.get_user(), Some("postgres"));
    }

    #[test]
    fn a_percent_encoded_socket_directory_is_decoded() {
        let url = parse("postgresql:///bank?host=%2Ftmp%2Fpg%20dir");

        assert_eq!(
            url.config.get_hosts(),
            [Host::Unix(Path::new("/tmp/pg dir").into())]
        );
    }

    #[test]
    fn several_hosts_with_read_write_follow_the_primary() {
        let url =
            parse("postgres://bankd:secret@db1:5432,db2:5433/bank?target_session_attrs=read-write");

        assert_eq!(
            url.config.get_hosts(),
            [Host::Tcp("db1".into()), Host::Tcp("db2".into())]
        );
        assert_eq!(url.config.get_ports(), [5432, 5433]);
        assert_eq!(
            url.config.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
    }

    #[test]
    fn every_libpq_sslmode_but_allow_is_understood() {
        let cases = [
            ("disable", SslMode::Disable, WireSslMode::Disable),
            ("prefer", SslMode::Prefer, WireSslMode::Prefer),
            ("require", SslMode::Require, WireSslMode::Require),
            ("verify-ca", SslMode::VerifyCa, WireSslMode::Require),
            ("verify-full", SslMode::VerifyFull, WireSslMode::Require),
        ];
        for (given, mode, wire) in cases {
            let url = parse(&format!(
                "postgres://h/bank?sslmode={given}&application_name=x"
            ));

            assert_eq!(url.ssl_mode, mode, "{given}");
            assert_eq!(url.config.get_ssl_mode(), wire, "{given}");
            assert_eq!(url.config.get_application_name(), Some("x"));
        }
        assert!(DatabaseUrl::parse("postgres://h/bank?sslmode=allow").is_err());
        assert!(DatabaseUrl::parse("postgres://h/bank?sslmode=sometimes").is_err());
    }

    #[test]
    fn without_sslmode_tls_is_preferred_as_by_libpq() {
        assert_eq!(parse("postgres://h/bank").ssl_mode, SslMode::Prefer);
    }

    #[test]
    fn require_with_a_root_certificate_checks_the_chain_as_libpq_does() {
        let url = parse("postgres://h/bank?sslmode=require&sslrootcert=%2Fetc%2Fca.pem");

        assert_eq!(url.ssl_mode, SslMode::VerifyCa);
        assert_eq!(url.ssl_root_cert.as_deref(), Some("/etc/ca.pem"));
    }

    #[test]
    fn an_unknown_parameter_is_refused_by_name() {
        let error = DatabaseUrl::parse("postgres://h/bank?sslcert=client.pem")
            .expect_err("unknown parameter");

        assert!(error.contains("sslcert"), "{error}");
    }

    #[test]
    fn a_url_that_is_not_postgres_or_names_no_host_is_refused() {
        assert!(DatabaseUrl::parse("sqlite:///var/lib/bank.db").is_err());
        assert!(DatabaseUrl::parse("/var/lib/bankd/bank.db").is_err());
        assert!(DatabaseUrl::parse("postgres:///bank").is_err());
    }

    #[test]
    fn the_password_is_never_shown() {
        let url = parse("postgres://bankd:hunter2@db1,db2:6432/bank?sslmode=require");

        // libpq: a host without a port in a list takes the default, not its neighbour's.
        assert_eq!(url.describe(), "postgres://bankd@db1:5432,db2:6432/bank");
        assert!(!format!("{url:?}").contains("hunter2"));
        let error = DatabaseUrl::parse("postgres://bankd:hunter2@h/bank?bogus=1")
            .expect_err("unknown parameter");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn the_pool_is_built_without_connecting() {
        let url = parse("postgres://bankd@127.0.0.1:1/bank?sslmode=disable");
        let settings = PoolSettings {
            pool_size_max: 4,
            statement_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
        };

        let pool = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async { pool(&url, settings) })
            .expect("pool");

        assert_eq!(pool.status().max_size, 4);
    }

    #[test]
    fn verify_full_without_any_trusted_root_says_what_to_do() {
        let url = parse("postgres://h/bank?sslmode=verify-full&sslrootcert=%2Fnonexistent.pem");

        let error = tls_config(&url).expect_err("no roots");

        assert!(error.contains("sslrootcert"), "{error}");
    }
}
