//! Passwords and tokens: the password policy, Argon2id hashing, and the random secrets that
//! sessions and API tokens are made of. Secrets are never stored: sessions and tokens are found
//! by the SHA-256 digest of the secret, passwords by their Argon2id hash.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use modeltrail_ledger::Hash;
use sha2::{Digest, Sha256};

/// The prefix of a session token.
pub const SESSION_PREFIX: &str = "mts_";
/// The prefix of an API token.
pub const API_TOKEN_PREFIX: &str = "mtt_";

/// Rules a new password must meet.
#[derive(Clone, Debug)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// A password older than this must be changed at the next login; `None`: no expiry.
    pub max_age_days: Option<u32>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            max_age_days: Some(90),
        }
    }
}

/// Why a password or user id was refused, or a hash could not be made or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("the password must be at least {min} characters long")]
    TooShort { min: usize },
    #[error("the password must not be the user id")]
    SameAsUserId,
    #[error("the new password must differ from the current one")]
    Unchanged,
    #[error(
        "user id `{0}` is not valid: 2 to 64 characters, lower-case letters, digits, `.`, `_` \
         or `-`, starting with a letter or digit"
    )]
    BadUserId(String),
    #[error("the full name must not be empty")]
    EmptyName,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("the system's random source failed: {0}")]
    Random(String),
}

impl PasswordPolicy {
    /// Checks a new password for `user_id`.
    pub fn check(&self, user_id: &str, password: &str) -> Result<(), IdentityError> {
        if password.chars().count() < self.min_length {
            return Err(IdentityError::TooShort {
                min: self.min_length,
            });
        }
        if password.eq_ignore_ascii_case(user_id) {
            return Err(IdentityError::SameAsUserId);
        }
        Ok(())
    }

    /// Whether a password set at `changed_micros` has expired at `now_micros`.
    pub fn expired(&self, changed_micros: i64, now_micros: i64) -> bool {
        match self.max_age_days {
            None => false,
            Some(days) => now_micros - changed_micros > i64::from(days) * 86_400 * 1_000_000,
        }
    }
}

/// Checks a user id: never reused, so it must be stable and plain.
pub fn check_user_id(id: &str) -> Result<(), IdentityError> {
    let ok = (2..=64).contains(&id.len())
        && id
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
        });
    match ok {
        true => Ok(()),
        false => Err(IdentityError::BadUserId(id.to_owned())),
    }
}

/// Hashes a password with Argon2id (the crate's default parameters) and a random salt; the
/// result is a PHC string carrying its parameters.
pub fn hash_password(password: &str) -> Result<String, IdentityError> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| IdentityError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| IdentityError::Hashing(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Hashing(e.to_string()))
}

/// Whether `password` matches the stored hash. A hash that cannot be read is an error, not a
/// mismatch.
pub fn verify_password(stored: &str, password: &str) -> Result<bool, IdentityError> {
    let parsed = PasswordHash::new(stored).map_err(|e| IdentityError::Hashing(e.to_string()))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(IdentityError::Hashing(e.to_string())),
    }
}

/// A new random secret: `prefix` and 256 random bits, base64url.
pub fn new_secret(prefix: &str) -> Result<String, IdentityError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| IdentityError::Random(e.to_string()))?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// A random password for a new account: 20 characters from an unambiguous alphabet.
pub fn random_password() -> Result<String, IdentityError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom::getrandom(&mut bytes).map_err(|e| IdentityError::Random(e.to_string()))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// The digest a secret is looked up by.
pub fn secret_digest(secret: &str) -> Hash {
    Hash(Sha256::digest(secret.as_bytes()).into())
}

/// A short random id (128 bits, hex) for tokens and records created without one.
pub fn new_id() -> Result<String, IdentityError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| IdentityError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}
