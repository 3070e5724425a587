//! Notifications: which events of the log tell someone something (a drift breach, an exception
//! raised, a CAPA action overdue, a security alert, a signature requested), the webhook
//! subscriptions that want them, and every delivery attempt. All of it is folded from the log
//! (`webhook.*`, `capa.overdue`, `record.signature_request` and the events that notify), so
//! the outbox is the log: a delivery still pending when the server stops is due again after it
//! starts, and every attempt is an event anyone may read.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

use modeltrail_ledger::event::Event;
use modeltrail_ledger::Timestamp;

use crate::actions;
use crate::signature::Meaning;

/// What a notification is about: the event kinds a subscription chooses from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A monitoring batch breached its plan (drift, performance or an operational anomaly).
    DriftBreach,
    /// An exception record was opened (by a person or by the system).
    ExceptionRaised,
    /// A CAPA action passed its due date without being completed.
    CapaOverdue,
    /// A security alert (an account locked after failed logins, say).
    SecurityAlert,
    /// Someone asked a user to sign a record version.
    SignatureRequested,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 5] = [
        NotificationKind::DriftBreach,
        NotificationKind::ExceptionRaised,
        NotificationKind::CapaOverdue,
        NotificationKind::SecurityAlert,
        NotificationKind::SignatureRequested,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::DriftBreach => "drift_breach",
            NotificationKind::ExceptionRaised => "exception_raised",
            NotificationKind::CapaOverdue => "capa_overdue",
            NotificationKind::SecurityAlert => "security_alert",
            NotificationKind::SignatureRequested => "signature_requested",
        }
    }
}

/// `webhook.subscribe`: a receiver URL and the kinds it wants. Its HMAC secret is derived by
/// the server from a key beside the log and never written to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscribed {
    pub subscription: String,
    pub url: String,
    pub events: BTreeSet<NotificationKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `webhook.unsubscribe`: no more deliveries, pending ones included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsubscribed {
    pub subscription: String,
}

/// `webhook.attempt`: one try at delivering one notification to one subscription.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attempted {
    pub subscription: String,
    /// The sequence number of the event the notification is about.
    pub notification: u64,
    /// 1 for the first try.
    pub attempt: u32,
    pub delivered: bool,
    /// The receiver's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the next try is due; absent when delivered or given up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
}

/// `capa.overdue`: the event names the CAPA record at its current version (and that version's
/// leaf as its target) and the action past its due date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapaOverdue {
    /// The action's id, or `#n` (1-based position) for an action without one.
    pub action: String,
    pub owner: String,
    pub due_date: String,
    pub description: String,
}

/// `record.signature_request`: the event names the record version to be signed (and its leaf
/// as the target); the payload who is asked, with which meaning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureRequested {
    pub signer: String,
    pub meaning: Meaning,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The notification an event raises, if any.
pub fn kind_of(event: &Event) -> Option<NotificationKind> {
    let record_kind = event.record.as_ref().map(|r| r.kind.as_str());
    match (event.action.as_str(), record_kind) {
        (actions::SECURITY_ALERT, _) => Some(NotificationKind::SecurityAlert),
        (actions::CAPA_OVERDUE, _) => Some(NotificationKind::CapaOverdue),
        (actions::RECORD_SIGNATURE_REQUEST, _) => Some(NotificationKind::SignatureRequested),
        (actions::RECORD_CREATE, Some("exception")) => Some(NotificationKind::ExceptionRaised),
        (actions::RECORD_CREATE, Some("monitoring_batch"))
            if event.payload.get("exception").is_some_and(Value::is_string) =>
        {
            Some(NotificationKind::DriftBreach)
        }
        _ => None,
    }
}

/// The JSON body a receiver gets for the notification `event` raised: the same bytes on every
/// attempt, so a receiver can use `id` to drop repeats.
pub fn message(event: &Event, kind: NotificationKind) -> Value {
    let pick = |fields: &[&str]| {
        let mut details = serde_json::Map::new();
        for field in fields {
            if let Some(value) = event.payload.get(*field) {
                details.insert((*field).to_owned(), value.clone());
            }
        }
        Value::Object(details)
    };
    let details = match kind {
        NotificationKind::DriftBreach => pick(&[
            "model_version",
            "plan",
            "verdict",
            "exception",
            "change_request",
            "window_start",
            "window_end",
        ]),
        NotificationKind::ExceptionRaised => pick(&[
            "title",
            "category",
            "severity",
            "detected_by",
            "source",
            "affected_model_versions",
        ]),
        NotificationKind::CapaOverdue
        | NotificationKind::SecurityAlert
        | NotificationKind::SignatureRequested => event.payload.clone(),
    };
    json!({
        "id": format!("{}", event.seq),
        "kind": kind,
        "occurred_at": event.timestamp,
        "seq": event.seq,
        "action": event.action,
        "record": event.record,
        "actor": {"id": event.actor.id, "name": event.actor.name},
        "summary": summary(event, kind),
        "details": details,
    })
}

fn summary(event: &Event, kind: NotificationKind) -> String {
    let text = |field: &str| {
        event
            .payload
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    let record = event
        .record
        .as_ref()
        .map(|r| format!("{} `{}`", r.kind, r.id))
        .unwrap_or_default();
    match kind {
        NotificationKind::DriftBreach => format!(
            "monitoring batch `{}` of model version `{}` breached its plan; exception `{}` raised",
            event.record.as_ref().map_or("?", |r| r.id.as_str()),
            text("model_version"),
            text("exception"),
        ),
        NotificationKind::ExceptionRaised => {
            format!("{} exception raised: {}", text("severity"), text("title"))
        }
        NotificationKind::CapaOverdue => format!(
            "{record}: action {} owned by `{}` was due on {}",
            text("action"),
            text("owner"),
            text("due_date")
        ),
        NotificationKind::SecurityAlert => text("message"),
        NotificationKind::SignatureRequested => format!(
            "`{}` is asked to sign {record} version {} as `{}`",
            text("signer"),
            event.record.as_ref().map_or(0, |r| r.version),
            text("meaning"),
        ),
    }
}

/// A webhook subscription as the log leaves it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub events: BTreeSet<NotificationKind>,
    pub description: Option<String>,
    pub active: bool,
    pub created_at: Timestamp,
    pub created_by: String,
    /// The `webhook.subscribe` event: notifications after it are delivered.
    pub seq: u64,
}

/// One try at a delivery, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attempt {
    pub seq: u64,
    pub at: Timestamp,
    pub attempt: u32,
    pub delivered: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// The server stopped trying after its last attempt.
    Failed,
    /// The subscription ended before it was delivered.
    Cancelled,
}

/// One notification for one subscription, with every attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delivery {
    pub subscription: String,
    /// The sequence number of the event the notification is about.
    pub notification: u64,
    pub kind: NotificationKind,
    pub raised_at: Timestamp,
    pub state: DeliveryState,
    /// When the next try is due (pending deliveries).
    pub due_at: Option<Timestamp>,
    pub attempts: Vec<Attempt>,
}

/// A delivery whose time has come.
#[derive(Clone, Debug, PartialEq)]
pub struct Due {
    pub subscription: String,
    pub url: String,
    pub notification: u64,
    pub kind: NotificationKind,
    /// The number this try will carry (1 for the first).
    pub attempt: u32,
}

/// An event about notifications the fold cannot take.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotificationError {
    #[error("payload: {0}")]
    Payload(String),
    #[error("webhook subscription `{0}` already exists")]
    Exists(String),
    #[error("no webhook subscription `{0}`")]
    NoSubscription(String),
    #[error("no delivery of notification {notification} to `{subscription}`")]
    NoDelivery {
        subscription: String,
        notification: u64,
    },
}

/// The subscriptions, deliveries and raised overdue reminders folded from the log.
#[derive(Clone, Debug, Default)]
pub struct Notifications {
    subscriptions: BTreeMap<String, Subscription>,
    deliveries: BTreeMap<(String, u64), Delivery>,
    /// Pending deliveries, by (subscription, notification).
    pending: BTreeSet<(String, u64)>,
    /// (CAPA id, action, due date) already reported overdue.
    overdue: BTreeSet<(String, String, String)>,
}

impl Notifications {
    /// Folds one event in (the projection calls it for every event, in log order).
    pub fn apply(&mut self, event: &Event) -> Result<(), NotificationError> {
        match event.action.as_str() {
            actions::WEBHOOK_SUBSCRIBE => {
                let p: Subscribed = payload(event)?;
                if self.subscriptions.contains_key(&p.subscription) {
                    return Err(NotificationError::Exists(p.subscription));
                }
                self.subscriptions.insert(
                    p.subscription.clone(),
                    Subscription {
                        id: p.subscription,
                        url: p.url,
                        events: p.events,
                        description: p.description,
                        active: true,
                        created_at: event.timestamp,
                        created_by: event.actor.id.clone(),
                        seq: event.seq,
                    },
                );
            }
            actions::WEBHOOK_UNSUBSCRIBE => {
                let p: Unsubscribed = payload(event)?;
                let subscription = self
                    .subscriptions
                    .get_mut(&p.subscription)
                    .ok_or_else(|| NotificationError::NoSubscription(p.subscription.clone()))?;
                subscription.active = false;
                let ended: Vec<_> = self
                    .pending
                    .range((p.subscription.clone(), 0)..=(p.subscription.clone(), u64::MAX))
                    .cloned()
                    .collect();
                for key in ended {
                    self.pending.remove(&key);
                    if let Some(d) = self.deliveries.get_mut(&key) {
                        d.state = DeliveryState::Cancelled;
                        d.due_at = None;
                    }
                }
            }
            actions::WEBHOOK_ATTEMPT => {
                let p: Attempted = payload(event)?;
                let key = (p.subscription.clone(), p.notification);
                let delivery =
                    self.deliveries
                        .get_mut(&key)
                        .ok_or_else(|| NotificationError::NoDelivery {
                            subscription: p.subscription.clone(),
                            notification: p.notification,
                        })?;
                delivery.attempts.push(Attempt {
                    seq: event.seq,
                    at: event.timestamp,
                    attempt: p.attempt,
                    delivered: p.delivered,
                    status: p.status,
                    error: p.error,
                    next_attempt_at: p.next_attempt_at,
                });
                if delivery.state == DeliveryState::Cancelled {
                    // Tried while the subscription ended: recorded, nothing more is due.
                    return Ok(());
                }
                delivery.due_at = p.next_attempt_at.filter(|_| !p.delivered);
                delivery.state = match (p.delivered, delivery.due_at) {
                    (true, _) => DeliveryState::Delivered,
                    (false, Some(_)) => DeliveryState::Pending,
                    (false, None) => DeliveryState::Failed,
                };
                if delivery.state != DeliveryState::Pending {
                    self.pending.remove(&key);
                }
            }
            actions::CAPA_OVERDUE => {
                let p: CapaOverdue = payload(event)?;
                if let Some(record) = &event.record {
                    self.overdue
                        .insert((record.id.clone(), p.action.clone(), p.due_date.clone()));
                }
            }
            _ => {}
        }
        if let Some(kind) = kind_of(event) {
            let wanting: Vec<String> = self
                .subscriptions
                .values()
                .filter(|s| s.active && s.events.contains(&kind))
                .map(|s| s.id.clone())
                .collect();
            for subscription in wanting {
                let key = (subscription.clone(), event.seq);
                self.pending.insert(key.clone());
                self.deliveries.insert(
                    key,
                    Delivery {
                        subscription,
                        notification: event.seq,
                        kind,
                        raised_at: event.timestamp,
                        state: DeliveryState::Pending,
                        due_at: Some(event.timestamp),
                        attempts: Vec::new(),
                    },
                );
            }
        }
        Ok(())
    }

    pub fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.subscriptions.get(id)
    }

    pub fn subscriptions(&self) -> impl Iterator<Item = &Subscription> {
        self.subscriptions.values()
    }

    /// Every delivery to one subscription, oldest notification first.
    pub fn deliveries_of<'a>(&'a self, subscription: &str) -> impl Iterator<Item = &'a Delivery> {
        self.deliveries
            .range((subscription.to_owned(), 0)..=(subscription.to_owned(), u64::MAX))
            .map(|(_, d)| d)
    }

    /// Pending deliveries due at or before `now`.
    pub fn due(&self, now: Timestamp) -> Vec<Due> {
        self.pending
            .iter()
            .filter_map(|key| self.deliveries.get(key))
            .filter(|d| d.due_at.is_some_and(|at| at <= now))
            .filter_map(|d| {
                let s = self.subscriptions.get(&d.subscription)?;
                Some(Due {
                    subscription: d.subscription.clone(),
                    url: s.url.clone(),
                    notification: d.notification,
                    kind: d.kind,
                    attempt: d.attempts.len() as u32 + 1,
                })
            })
            .collect()
    }

    /// When the earliest pending delivery is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.pending
            .iter()
            .filter_map(|key| self.deliveries.get(key)?.due_at)
            .min()
    }

    /// Whether the CAPA action was already reported overdue for this due date.
    pub fn overdue_reported(&self, capa: &str, action: &str, due_date: &str) -> bool {
        self.overdue
            .contains(&(capa.to_owned(), action.to_owned(), due_date.to_owned()))
    }
}

fn payload<T: serde::de::DeserializeOwned>(event: &Event) -> Result<T, NotificationError> {
    T::deserialize(&event.payload).map_err(|e| NotificationError::Payload(e.to_string()))
}

/// How long to wait after the `failed`-th failed attempt: `first` doubled each time, at most
/// `cap`.
pub fn backoff(failed: u32, first_micros: i64, cap_micros: i64) -> i64 {
    let doublings = failed.saturating_sub(1).min(40);
    first_micros
        .saturating_mul(1i64 << doublings)
        .min(cap_micros)
}

/// The CAPA actions of `content` (a capa record) past their due date on `today` (YYYY-MM-DD)
/// without a completion day, each named as in [`CapaOverdue`].
pub fn overdue_actions(content: &Value, today: &str) -> Vec<CapaOverdue> {
    let Some(items) = content.get("actions").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter(|(_, a)| a.get("completed_on").is_none())
        .filter_map(|(i, a)| {
            let due = a.get("due_date")?.as_str()?;
            // ISO days compare as text.
            (due < today).then(|| CapaOverdue {
                action: a
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("#{}", i + 1), str::to_owned),
                owner: a
                    .get("owner")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                due_date: due.to_owned(),
                description: a
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use modeltrail_ledger::event::{Actor, AuthMethod, Client, RecordRef};

    fn event(
        seq: u64,
        micros: i64,
        action: &str,
        record: Option<(&str, &str)>,
        payload: Value,
    ) -> Event {
        Event {
            seq,
            timestamp: Timestamp::from_micros(micros),
            actor: Actor {
                id: "system".into(),
                name: "modeltrail server".into(),
                role: "system".into(),
                auth: AuthMethod::System,
            },
            client: Client::default(),
            action: action.into(),
            record: record.map(|(kind, id)| RecordRef {
                kind: kind.into(),
                id: id.into(),
                version: 1,
            }),
            prev: None,
            reason: None,
            target: None,
            payload,
        }
    }

    fn subscribe(seq: u64, id: &str, events: &[NotificationKind]) -> Event {
        event(
            seq,
            seq as i64,
            actions::WEBHOOK_SUBSCRIBE,
            None,
            json!(Subscribed {
                subscription: id.into(),
                url: "http://127.0.0.1:9/hook".into(),
                events: events.iter().copied().collect(),
                description: None,
            }),
        )
    }

    fn attempt(seq: u64, delivered: bool, next: Option<i64>) -> Event {
        event(
            seq,
            seq as i64,
            actions::WEBHOOK_ATTEMPT,
            None,
            json!(Attempted {
                subscription: "ops".into(),
                notification: 1,
                attempt: 1,
                delivered,
                status: Some(if delivered { 204 } else { 500 }),
                error: None,
                next_attempt_at: next.map(Timestamp::from_micros),
            }),
        )
    }

    #[test]
    fn the_events_that_notify() {
        let exception = event(
            0,
            0,
            actions::RECORD_CREATE,
            Some(("exception", "e1")),
            json!({}),
        );
        assert_eq!(kind_of(&exception), Some(NotificationKind::ExceptionRaised));
        let quiet = event(
            0,
            0,
            actions::RECORD_CREATE,
            Some(("monitoring_batch", "b")),
            json!({}),
        );
        assert_eq!(kind_of(&quiet), None);
        let breach = event(
            0,
            0,
            actions::RECORD_CREATE,
            Some(("monitoring_batch", "b")),
            json!({"exception": "e1", "model_version": "mv"}),
        );
        assert_eq!(kind_of(&breach), Some(NotificationKind::DriftBreach));
        let body = message(&breach, NotificationKind::DriftBreach);
        assert_eq!(body["details"]["exception"], "e1");
        assert_eq!(body["kind"], "drift_breach");
        let update = event(
            0,
            0,
            actions::RECORD_UPDATE,
            Some(("exception", "e1")),
            json!({}),
        );
        assert_eq!(kind_of(&update), None);
    }

    #[test]
    fn a_subscription_gets_what_it_chose_after_it_subscribed() {
        let mut n = Notifications::default();
        let alert = |seq| {
            event(
                seq,
                seq as i64,
                actions::SECURITY_ALERT,
                None,
                json!({"kind": "lockout", "username": "x", "failures": 5, "message": "locked"}),
            )
        };
        n.apply(&alert(0)).unwrap();
        n.apply(&subscribe(1, "ops", &[NotificationKind::SecurityAlert]))
            .unwrap();
        n.apply(&alert(2)).unwrap();
        let exception = event(
            3,
            3,
            actions::RECORD_CREATE,
            Some(("exception", "e")),
            json!({}),
        );
        n.apply(&exception).unwrap();
        let due = n.due(Timestamp::from_micros(10));
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!((due[0].notification, due[0].attempt), (2, 1));
        assert_eq!(n.next_due(), Some(Timestamp::from_micros(2)));
    }

    #[test]
    fn attempts_move_a_delivery_to_retry_delivered_or_failed() {
        let mut n = Notifications::default();
        n.apply(&subscribe(0, "ops", &[NotificationKind::SecurityAlert]))
            .unwrap();
        n.apply(&event(1, 1, actions::SECURITY_ALERT, None, json!({})))
            .unwrap();
        n.apply(&attempt(2, false, Some(100))).unwrap();
        assert!(n.due(Timestamp::from_micros(99)).is_empty());
        let due = n.due(Timestamp::from_micros(100));
        assert_eq!(due[0].attempt, 2);
        n.apply(&attempt(3, true, None)).unwrap();
        assert!(n.due(Timestamp::from_micros(1000)).is_empty());
        let d: Vec<_> = n.deliveries_of("ops").collect();
        assert_eq!(d[0].state, DeliveryState::Delivered);
        assert_eq!(d[0].attempts.len(), 2);

        let mut gave_up = Notifications::default();
        gave_up
            .apply(&subscribe(0, "ops", &[NotificationKind::SecurityAlert]))
            .unwrap();
        gave_up
            .apply(&event(1, 1, actions::SECURITY_ALERT, None, json!({})))
            .unwrap();
        gave_up.apply(&attempt(2, false, None)).unwrap();
        assert_eq!(
            gave_up.deliveries_of("ops").next().unwrap().state,
            DeliveryState::Failed
        );
        assert_eq!(gave_up.next_due(), None);
    }

    #[test]
    fn unsubscribing_cancels_what_is_pending_and_attempts_need_a_delivery() {
        let mut n = Notifications::default();
        n.apply(&subscribe(0, "ops", &[NotificationKind::SecurityAlert]))
            .unwrap();
        n.apply(&event(1, 1, actions::SECURITY_ALERT, None, json!({})))
            .unwrap();
        n.apply(&event(
            2,
            2,
            actions::WEBHOOK_UNSUBSCRIBE,
            None,
            json!({"subscription": "ops"}),
        ))
        .unwrap();
        assert!(n.due(Timestamp::from_micros(10)).is_empty());
        assert_eq!(
            n.deliveries_of("ops").next().unwrap().state,
            DeliveryState::Cancelled
        );
        assert!(matches!(
            Notifications::default().apply(&attempt(0, true, None)),
            Err(NotificationError::NoDelivery { .. })
        ));
        assert_eq!(
            n.apply(&subscribe(3, "ops", &[])),
            Err(NotificationError::Exists("ops".into()))
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(1, 10, 1000), 10);
        assert_eq!(backoff(2, 10, 1000), 20);
        assert_eq!(backoff(4, 10, 1000), 80);
        assert_eq!(backoff(30, 10, 1000), 1000);
        assert_eq!(backoff(u32::MAX, i64::MAX / 2, i64::MAX), i64::MAX);
    }

    #[test]
    fn overdue_actions_are_those_past_due_and_not_completed() {
        let capa = json!({"actions": [
            {"id": "CA-1", "type": "corrective", "description": "retrain", "owner": "dev", "due_date": "2026-01-01"},
            {"type": "preventive", "description": "monitor", "owner": "qa", "due_date": "2026-01-01"},
            {"id": "CA-3", "type": "corrective", "description": "done", "owner": "dev", "due_date": "2026-01-01", "completed_on": "2025-12-30"},
            {"id": "CA-4", "type": "corrective", "description": "later", "owner": "dev", "due_date": "2026-01-02"}
        ]});
        let overdue = overdue_actions(&capa, "2026-01-02");
        let names: Vec<_> = overdue.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(names, ["CA-1", "#2"]);
        assert_eq!(overdue[1].owner, "qa");
    }
}
