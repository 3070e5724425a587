//! The server's settings: one struct, filled from flags and environment by the CLI.

use modeltrail_domain::identity::PasswordPolicy;
use modeltrail_store::StoreConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the server can be told.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub store: StoreConfig,
    pub listen: SocketAddr,
    /// Largest request body accepted; larger ones get 413.
    pub body_limit: usize,
    /// Largest data file accepted by an upload (dataset data), in bytes.
    pub upload_limit: usize,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// Consecutive failed logins that lock an account (and raise an alert).
    pub lockout_threshold: u32,
    pub password_policy: PasswordPolicy,
    /// The first administrator's password for automated set-ups; otherwise a random one is
    /// printed once and must be changed at the first login.
    pub admin_password: Option<String>,
    /// A bearer token that may read `/metrics` (for a Prometheus scraper).
    pub metrics_token: Option<String>,
    /// Serve HTTPS (rustls) with this certificate chain and private key, both PEM files.
    pub tls: Option<TlsFiles>,
    pub webhooks: WebhookConfig,
}

/// How webhook notifications are delivered and how often overdue CAPA actions are looked for.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Wait after the first failed attempt; each further failure doubles it.
    pub first_retry: Duration,
    /// The longest wait between two attempts.
    pub max_retry: Duration,
    /// Attempts after which a delivery is given up (recorded as failed).
    pub max_attempts: u32,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// How often CAPA actions are checked against their due dates.
    pub overdue_check: Duration,
}

impl Default for WebhookConfig {
    fn default() -> WebhookConfig {
        WebhookConfig {
            first_retry: Duration::from_secs(30),
            max_retry: Duration::from_secs(60 * 60),
            max_attempts: 12,
            timeout: Duration::from_secs(10),
            overdue_check: Duration::from_secs(15 * 60),
        }
    }
}

/// The PEM files of a TLS certificate chain and its private key.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl ServerConfig {
    /// The defaults for a data directory: loopback port 8080, SQLite.
    pub fn new(store: StoreConfig) -> ServerConfig {
        ServerConfig {
            store,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 1 << 20,
            upload_limit: 1 << 30,
            session_idle: Duration::from_secs(15 * 60),
            lockout_threshold: 5,
            password_policy: PasswordPolicy::default(),
            admin_password: None,
            metrics_token: None,
            tls: None,
            webhooks: WebhookConfig::default(),
        }
    }
}
