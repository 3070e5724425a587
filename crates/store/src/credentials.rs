//! Password hashes: the one mutable store beside the log. They are kept out of the log on
//! purpose: the log is exported to inspectors and a hash in it could be attacked offline. The
//! log records that a password was set or changed, by whom and when; this table holds only the
//! current Argon2id hash of each user's password.

use std::future::Future;

use crate::StoreError;

/// The current password hash of each user.
pub trait CredentialStore: Send + Sync + 'static {
    /// The stored hash (a PHC string), if the user has a password.
    fn password_hash(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Stores or replaces the user's password hash.
    fn set_password_hash(
        &self,
        user: &str,
        hash: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
