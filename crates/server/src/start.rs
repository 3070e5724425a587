//! Starting and stopping: open the store and the signing key, rebuild the projection from the
//! log, start the sequencer and the webhook delivery task, create the first administrator on
//! first start, serve until told to stop, then let in-flight requests and appends finish.

use modeltrail_domain::actions::{self, UserKind};
use modeltrail_domain::identity::{hash_password, random_password};
use modeltrail_domain::notifications;
use modeltrail_domain::projection::Projection;
use modeltrail_domain::roles::Role;
use modeltrail_domain::schemas::RecordTypes;
use modeltrail_ledger::event::{Actor, AuthMethod, Event, EventDraft};
use modeltrail_ledger::leaf_hash;
use modeltrail_store::keys::{load_or_create_signer, load_or_create_webhook_key, new_origin};
use modeltrail_store::{
    AnyStore, CredentialStore, LogStore, Sequencer, SequencerConfig, SequencerTask,
};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use tokio::sync::oneshot;

use crate::config::{ServerConfig, TlsFiles};
use crate::sessions::Sessions;
use crate::state::AppState;
use axum_server::tls_rustls::RustlsConfig;

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] modeltrail_store::StoreError),
    #[error("record schemas: {0}")]
    Schemas(#[from] modeltrail_domain::schemas::SchemaError),
    #[error("rebuilding the state from the log: {0}")]
    Projection(#[from] modeltrail_domain::projection::ProjectionError),
    #[error("event {seq} cannot be read: {reason}")]
    Event { seq: u64, reason: String },
    #[error("creating the first administrator: {0}")]
    Bootstrap(String),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("MLflow API: {0}")]
    Mlflow(String),
    #[error("webhooks: {0}")]
    Webhooks(String),
}

/// A server running in the background (tests, embedding).
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<(), StartError>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, commits everything queued.
    pub async fn stop(mut self) -> Result<(), StartError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.done
            .await
            .map_err(|e| StartError::Serve(std::io::Error::other(e.to_string())))?
    }
}

/// Serves until SIGINT or SIGTERM; `started` hears the bound address first.
pub async fn serve(
    config: ServerConfig,
    started: impl FnOnce(SocketAddr, Option<&str>),
) -> Result<(), StartError> {
    let tls = config.tls.as_ref().map(tls_config).transpose()?;
    let (state, task, first_password) = prepare(config.clone()).await?;
    let listener = bind(config.listen).await?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    started(addr, first_password.as_deref());
    run(listener, tls, state, task, shutdown_signal()).await
}

/// Starts the server in the background on `config.listen` (port 0 picks a free port).
pub async fn start(config: ServerConfig) -> Result<Running, StartError> {
    let tls = config.tls.as_ref().map(tls_config).transpose()?;
    let (state, task, _) = prepare(config.clone()).await?;
    let listener = bind(config.listen).await?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(run(listener, tls, state, task, async {
        let _ = stopped.await;
    }));
    Ok(Running {
        addr,
        stop: Some(stop),
        done,
    })
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// Reads the certificate chain and key into a rustls configuration (ring, TLS 1.2 and 1.3).
fn tls_config(files: &TlsFiles) -> Result<RustlsConfig, StartError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| StartError::Tls(format!("certificate {}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(StartError::Tls(format!(
            "certificate {}: no certificate in the file",
            files.cert.display()
        )));
    }
    // The key's error message names the file only: never its contents.
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|_| {
        StartError::Tls(format!(
            "private key {}: not a readable PEM private key",
            files.key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(format!("certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

async fn run(
    listener: tokio::net::TcpListener,
    tls: Option<RustlsConfig>,
    state: Arc<AppState>,
    task: SequencerTask,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let deliveries = tokio::spawn(crate::webhooks::run(state.clone()));
    let app = crate::routes::router(state).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
            .map_err(StartError::Serve)?,
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                stop.await;
                stopper.graceful_shutdown(None);
            });
            let listener = listener.into_std().map_err(StartError::Serve)?;
            axum_server::from_tcp_rustls(listener, tls)
                .handle(handle)
                .serve(app)
                .await
                .map_err(StartError::Serve)?;
        }
    }
    // Deliveries not recorded yet are due again at the next start.
    deliveries.abort();
    let _ = deliveries.await;
    // The router, the delivery task and with them the last sequencer handle are gone: the
    // sequencer commits what is queued and stops.
    task.finished().await?;
    tracing::info!("stopped; everything acknowledged is durable");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Opens everything; returns the state, the sequencer task and, on first start without a
/// configured password, the administrator's one-time password.
async fn prepare(
    config: ServerConfig,
) -> Result<(Arc<AppState>, SequencerTask, Option<String>), StartError> {
    let record_types = RecordTypes::builtin()?;
    let signer = load_or_create_signer(&config.store.data_dir, &new_origin()?)?;
    let verifier_key = signer.verifier().to_text();
    let store = config.store.open().await?;
    let projection = Arc::new(RwLock::new(replay(&store).await?));
    let observed = projection.clone();
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let counted = metrics.clone();
    let wake = Arc::new(tokio::sync::Notify::new());
    let waker = wake.clone();
    let webhook_key = load_or_create_webhook_key(&config.store.data_dir)?;
    let sequencer_config = SequencerConfig {
        observer: Some(Arc::new(
            move |committed: &[modeltrail_store::Committed]| {
                counted.batch(committed.len());
                let mut p = observed.write().unwrap_or_else(|e| e.into_inner());
                for c in committed {
                    if let Err(e) = p.apply(&c.event, c.leaf) {
                        tracing::error!(error = %e, "the projection cannot follow the log");
                    }
                }
                if committed.iter().any(|c| {
                    notifications::kind_of(&c.event).is_some()
                        || c.event.action == actions::WEBHOOK_SUBSCRIBE
                }) {
                    waker.notify_one();
                }
            },
        )),
        ..SequencerConfig::default()
    };
    let (sequencer, task) =
        Sequencer::start(Arc::new(store.clone()), signer, sequencer_config).await?;
    let state = Arc::new(AppState {
        sessions: Sessions::new(config.session_idle),
        blobs: config.store.blobs(),
        config,
        store,
        sequencer,
        projection,
        record_types,
        verifier_key,
        metrics,
        workflow_steps: tokio::sync::Mutex::new(()),
        decision_reviews: tokio::sync::Mutex::new(()),
        references: Default::default(),
        mlflow: crate::routes::mlflow::MlflowShared::new().map_err(StartError::Mlflow)?,
        webhooks: crate::webhooks::Webhooks::new(webhook_key, wake)
            .map_err(|e| StartError::Webhooks(e.to_string()))?,
    });
    let first_password = bootstrap_admin(&state).await?;
    Ok((state, task, first_password))
}

/// Rebuilds the projection by reading the whole log in order.
async fn replay(store: &AnyStore) -> Result<Projection, StartError> {
    let mut projection = Projection::new();
    let size = store.size().await?;
    let mut from = 0;
    while from < size {
        let page = store.entries(from, 4096).await?;
        if page.is_empty() {
            break;
        }
        for entry in &page {
            let event = Event::from_bytes(&entry.body).map_err(|e| StartError::Event {
                seq: entry.seq,
                reason: e.to_string(),
            })?;
            projection.apply(&event, leaf_hash(&entry.body))?;
        }
        from += page.len() as u64;
    }
    Ok(projection)
}

/// The server acting on its own behalf.
pub fn system_actor() -> Actor {
    Actor {
        id: "system".into(),
        name: "modeltrail server".into(),
        role: "system".into(),
        auth: AuthMethod::System,
    }
}

/// An event by the server itself, about no record.
pub fn system_draft(action: &str, payload: serde_json::Value) -> EventDraft {
    EventDraft {
        actor: system_actor(),
        client: Default::default(),
        action: action.to_owned(),
        record: None,
        prev: None,
        reason: None,
        target: None,
        payload,
    }
}

/// On first start (no users in the log), creates the administrator `admin`. The password hash
/// is stored before the event, so a crash between the two leaves no user without a password.
async fn bootstrap_admin(state: &AppState) -> Result<Option<String>, StartError> {
    if state.read().users().next().is_some() {
        return Ok(None);
    }
    let (password, generated) = match &state.config.admin_password {
        Some(p) => (p.clone(), false),
        None => (
            random_password().map_err(|e| StartError::Bootstrap(e.to_string()))?,
            true,
        ),
    };
    state
        .config
        .password_policy
        .check("admin", &password)
        .map_err(|e| StartError::Bootstrap(format!("MODELTRAIL_ADMIN_PASSWORD: {e}")))?;
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?
            .map_err(|e| StartError::Bootstrap(e.to_string()))?
    };
    state.store.set_password_hash("admin", &hash).await?;
    let mut draft = system_draft(
        actions::USER_CREATE,
        serde_json::json!(actions::UserCreated {
            user: "admin".into(),
            name: "Administrator".into(),
            role: Role::Admin,
            kind: UserKind::Person,
            must_change_password: generated,
        }),
    );
    draft.reason = Some("first start: the first administrator".into());
    state
        .sequencer
        .append(draft)
        .await
        .map_err(|e| StartError::Bootstrap(e.to_string()))?;
    Ok(generated.then_some(password))
}
