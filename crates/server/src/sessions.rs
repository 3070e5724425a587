//! Interactive sessions: held in memory only, found by the digest of their token, ended by
//! logout or by idle time. A restart ends every session.

use modeltrail_ledger::Hash;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One logged-in session.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: String,
    pub last_seen: Instant,
    /// The password must be changed before anything else (first login, reset, expiry).
    pub must_change_password: bool,
    /// Whether the user has signed in this session: the first signature needs the user id and
    /// the password, later ones the password (21 CFR 11.200(a)(1)).
    pub has_signed: bool,
}

/// Every live session.
pub struct Sessions {
    idle: Duration,
    map: Mutex<HashMap<Hash, Session>>,
}

impl Sessions {
    pub fn new(idle: Duration) -> Sessions {
        Sessions {
            idle,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn idle(&self) -> Duration {
        self.idle
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Hash, Session>> {
        // A panic while holding the map cannot leave a session half-changed: recover the map.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, digest: Hash, session: Session) {
        let mut map = self.lock();
        let idle = self.idle;
        map.retain(|_, s| s.last_seen.elapsed() < idle);
        map.insert(digest, session);
    }

    /// The session, touched; `None` if unknown or idle too long (then it is ended).
    pub fn touch(&self, digest: &Hash) -> Option<Session> {
        let mut map = self.lock();
        let session = map.get_mut(digest)?;
        if session.last_seen.elapsed() >= self.idle {
            map.remove(digest);
            return None;
        }
        session.last_seen = Instant::now();
        Some(session.clone())
    }

    pub fn update(&self, digest: &Hash, f: impl FnOnce(&mut Session)) {
        if let Some(s) = self.lock().get_mut(digest) {
            f(s);
        }
    }

    /// Live sessions (for metrics).
    pub fn count(&self) -> usize {
        let idle = self.idle;
        self.lock()
            .values()
            .filter(|s| s.last_seen.elapsed() < idle)
            .count()
    }

    pub fn remove(&self, digest: &Hash) {
        self.lock().remove(digest);
    }

    /// Ends every session of a user (locked, password reset, role changed).
    pub fn end_all_of(&self, user: &str) {
        self.lock().retain(|_, s| s.user != user);
    }
}
