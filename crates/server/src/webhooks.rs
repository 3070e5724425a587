//! Webhook delivery: the task that posts due notifications to their subscribers, each body
//! signed with HMAC-SHA256, records every attempt in the log and schedules the next with
//! exponential backoff; and the sweep that reports CAPA actions past their due date. Both read
//! what is due from the projection, which is folded from the log: after a restart they go on
//! where the log says they stopped. Delivery is at least once: a receiver may see a repeat (the
//! same `X-Modeltrail-Delivery` and body) when the server stopped between sending and recording.

use hmac::{Hmac, Mac};
use modeltrail_domain::actions;
use modeltrail_domain::notifications::{self, backoff, overdue_actions, Attempted, Due};
use modeltrail_domain::workflow::machine;
use modeltrail_ledger::event::{EventDraft, RecordRef};
use modeltrail_ledger::Timestamp;
use serde_json::json;
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

use crate::config::WebhookConfig;
use crate::error::ApiError;
use crate::start::system_draft;
use crate::state::Shared;

/// Header carrying `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "X-Modeltrail-Signature";
/// Header carrying the Unix time (seconds) the signature covers.
pub const TIMESTAMP_HEADER: &str = "X-Modeltrail-Timestamp";
/// Header naming the delivery, `<subscription>/<notification seq>`: the same on every attempt.
pub const DELIVERY_HEADER: &str = "X-Modeltrail-Delivery";

/// What the delivery task shares with the handlers.
pub struct Webhooks {
    /// The key subscription secrets are derived from (`<data dir>/webhook.key`).
    key: [u8; 32],
    /// Woken when the log gains something to deliver.
    pub wake: Arc<Notify>,
    client: reqwest::Client,
}

impl Webhooks {
    pub fn new(key: [u8; 32], wake: Arc<Notify>) -> Result<Webhooks, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("modeltrail/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Webhooks { key, wake, client })
    }

    /// The HMAC secret of one subscription: derived from the server's webhook key, so it is
    /// never stored, and shown to the administrator who subscribes.
    pub fn secret(&self, subscription: &str) -> String {
        let mut mac = hmac(&self.key);
        mac.update(b"modeltrail webhook secret v1\0");
        mac.update(subscription.as_bytes());
        format!("whsec_{}", hex::encode(mac.finalize().into_bytes()))
    }
}

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// The signature header's value for `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = hmac(secret.as_bytes());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers what is due and sweeps for overdue CAPA actions until the server stops (the task
/// is aborted then; whatever was not recorded is due again at the next start).
pub async fn run(state: Shared) {
    let config = state.config.webhooks.clone();
    let mut next_sweep = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_sweep {
            if let Err(e) = sweep_overdue(&state).await {
                tracing::warn!(error = %e.message, "the overdue CAPA sweep failed; it runs again later");
            }
            next_sweep = tokio::time::Instant::now() + config.overdue_check;
        }
        let due = state.read().notifications().due(Timestamp::now());
        let mut failed = false;
        for group in due.chunks(16) {
            let mut set = tokio::task::JoinSet::new();
            for d in group {
                set.spawn(deliver(state.clone(), d.clone(), config.clone()));
            }
            while let Some(done) = set.join_next().await {
                if let Ok(Err(e)) = done {
                    failed = true;
                    tracing::warn!(error = %e.message, "a webhook attempt could not be recorded");
                }
            }
        }
        let until_sweep = next_sweep.saturating_duration_since(tokio::time::Instant::now());
        let until_due = state.read().notifications().next_due().map(|at| {
            let micros = at.as_micros().saturating_sub(Timestamp::now().as_micros());
            Duration::from_micros(u64::try_from(micros).unwrap_or(0))
        });
        let mut wait = until_due.map_or(until_sweep, |d| d.min(until_sweep));
        if failed {
            // The store refused: do not spin on it.
            wait = wait.max(Duration::from_secs(1));
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.webhooks.wake.notified() => {}
        }
    }
}

/// One attempt at one delivery, recorded as a `webhook.attempt` event.
async fn deliver(state: Shared, due: Due, config: WebhookConfig) -> Result<(), ApiError> {
    let event = state.event(due.notification).await?;
    let body = serde_json::to_vec(&notifications::message(&event, due.kind))
        .map_err(ApiError::internal)?;
    let sent_at = Timestamp::now().as_micros() / 1_000_000;
    let secret = state.webhooks.secret(&due.subscription);
    let answer = state
        .webhooks
        .client
        .post(&due.url)
        .timeout(config.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Modeltrail-Event", due.kind.as_str())
        .header(
            DELIVERY_HEADER,
            format!("{}/{}", due.subscription, due.notification),
        )
        .header("X-Modeltrail-Attempt", due.attempt.to_string())
        .header(TIMESTAMP_HEADER, sent_at.to_string())
        .header(SIGNATURE_HEADER, signature(&secret, sent_at, &body))
        .body(body)
        .send()
        .await;
    let (delivered, status, error) = match answer {
        Ok(response) if response.status().is_success() => {
            (true, Some(response.status().as_u16()), None)
        }
        Ok(response) => (
            false,
            Some(response.status().as_u16()),
            Some(format!("the receiver answered {}", response.status())),
        ),
        Err(e) => (false, None, Some(describe(&e, config.timeout))),
    };
    let next_attempt_at = (!delivered && due.attempt < config.max_attempts).then(|| {
        let wait = backoff(
            due.attempt,
            micros(config.first_retry),
            micros(config.max_retry),
        );
        Timestamp::from_micros(Timestamp::now().as_micros().saturating_add(wait))
    });
    let draft = system_draft(
        actions::WEBHOOK_ATTEMPT,
        json!(Attempted {
            subscription: due.subscription,
            notification: due.notification,
            attempt: due.attempt,
            delivered,
            status,
            error,
            next_attempt_at,
        }),
    );
    state.sequencer.append(draft).await?;
    Ok(())
}

/// Why a request failed, without its URL (which may carry credentials).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else if e.is_connect() {
        "could not connect to the receiver".to_owned()
    } else {
        let mut text = String::from("the request failed");
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Records a `capa.overdue` event for each action of an open CAPA past its due date (UTC day)
/// and not yet reported for that date. One CAPA at a time: a CAPA changed meanwhile is refused
/// by the sequencer and looked at again at the next sweep.
async fn sweep_overdue(state: &Shared) -> Result<(), ApiError> {
    let today = Timestamp::now().to_string()[..10].to_owned();
    let open: Vec<_> = {
        let projection = state.read();
        projection
            .records_of("capa", None)
            .filter(|r| !r.voided)
            .filter(|r| {
                let terminal = machine(&r.kind)
                    .zip(r.workflow.as_deref())
                    .is_some_and(|(m, s)| m.is_terminal(s));
                !terminal
            })
            .filter_map(|r| Some((r.id.clone(), r.head()?.clone())))
            .collect()
    };
    for (id, head) in open {
        let content = state.event(head.seq).await?.payload;
        let drafts: Vec<EventDraft> = {
            let projection = state.read();
            overdue_actions(&content, &today)
                .into_iter()
                .filter(|a| {
                    !projection
                        .notifications()
                        .overdue_reported(&id, &a.action, &a.due_date)
                })
                .map(|a| {
                    let mut draft = system_draft(actions::CAPA_OVERDUE, json!(a));
                    draft.record = Some(RecordRef {
                        kind: "capa".into(),
                        id: id.clone(),
                        version: head.version,
                    });
                    draft.target = Some(head.leaf);
                    draft.reason = Some(format!("CAPA action {} is past its due date", a.action));
                    draft
                })
                .collect()
        };
        if !drafts.is_empty() {
            state.sequencer.append_all(drafts).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_the_time_and_the_body() {
        let a = signature("whsec_1", 1_700_000_000, b"{}");
        assert!(a.starts_with("v1=") && a.len() == 3 + 64, "{a}");
        assert_ne!(a, signature("whsec_1", 1_700_000_001, b"{}"));
        assert_ne!(a, signature("whsec_1", 1_700_000_000, b"{ }"));
        assert_ne!(a, signature("whsec_2", 1_700_000_000, b"{}"));
        // RFC 4231 test case 2: HMAC-SHA256 with key "Jefe".
        let mut mac = hmac(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn secrets_differ_by_subscription_and_key() {
        let wake = Arc::new(Notify::new());
        let one = Webhooks::new([1; 32], wake.clone()).expect("client");
        let two = Webhooks::new([2; 32], wake).expect("client");
        assert_eq!(one.secret("ops"), one.secret("ops"));
        assert_ne!(one.secret("ops"), one.secret("qa"));
        assert_ne!(one.secret("ops"), two.secret("ops"));
    }
}
