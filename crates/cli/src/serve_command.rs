//! `modeltrail serve`: the server with its settings from flags and environment variables.

use clap::Args;
use modeltrail_server::ServerConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::StoreArgs;

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address and port to listen on.
    #[arg(long, env = "MODELTRAIL_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Largest request body in bytes; larger ones get 413.
    #[arg(long, env = "MODELTRAIL_BODY_LIMIT", default_value_t = 1 << 20)]
    body_limit: usize,
    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "MODELTRAIL_SESSION_IDLE_MINUTES", default_value_t = 15)]
    session_idle_minutes: u64,
    /// Consecutive failed logins that lock an account.
    #[arg(long, env = "MODELTRAIL_LOCKOUT_THRESHOLD", default_value_t = 5)]
    lockout_threshold: u32,
    /// Minimum password length.
    #[arg(long, env = "MODELTRAIL_PASSWORD_MIN_LENGTH", default_value_t = 12)]
    password_min_length: usize,
    /// Days after which a password must be changed (0: never).
    #[arg(long, env = "MODELTRAIL_PASSWORD_MAX_AGE_DAYS", default_value_t = 90)]
    password_max_age_days: u32,
    /// The first administrator's password, for automated set-ups (read only on first start).
    #[arg(long, env = "MODELTRAIL_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// A bearer token that may read /metrics.
    #[arg(long, env = "MODELTRAIL_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "MODELTRAIL_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "MODELTRAIL_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut config = ServerConfig::new(args.store.config());
    config.listen = args.listen;
    config.body_limit = args.body_limit;
    config.session_idle = Duration::from_secs(args.session_idle_minutes.max(1) * 60);
    config.lockout_threshold = args.lockout_threshold.max(1);
    config.password_policy.min_length = args.password_min_length;
    config.password_policy.max_age_days =
        (args.password_max_age_days > 0).then_some(args.password_max_age_days);
    config.admin_password = args.admin_password;
    config.metrics_token = args.metrics_token;
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        config.tls = Some(modeltrail_server::TlsFiles { cert, key });
    }
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let data_dir = config.store.data_dir.clone();
    modeltrail_server::serve(config, |addr, first_password| {
        if let Some(password) = first_password {
            // Printed once, to the terminal only: never to the log.
            println!(
                "first start: administrator `admin` created with the one-time password\n\n    \
                 {password}\n\nit must be changed at the first login."
            );
        }
        println!(
            "modeltrail serving {scheme}://{addr} (data directory {})",
            data_dir.display()
        );
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
