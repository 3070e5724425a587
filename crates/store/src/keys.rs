//! The log's Ed25519 signing key in the data directory: generated on first start, kept in a file
//! only its owner can read (mode 0600), never logged. Beside it, the public verifier key.

use ed25519_dalek::SigningKey;
use modeltrail_ledger::note::{NoteSigner, NoteVerifier};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::StoreError;

/// File name of the private signing key inside the data directory.
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// File name of the public verifier key inside the data directory.
pub const VERIFIER_KEY_FILE: &str = "verifier.key";
/// File name of the key webhook secrets are derived from, inside the data directory.
pub const WEBHOOK_KEY_FILE: &str = "webhook.key";

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SIGNING_KEY_FILE)
}

/// A new random origin for a log: `modeltrail.local/log-` and 16 random hex digits, so that
/// checkpoints of two installations can never be mistaken for each other.
pub fn new_origin() -> Result<String, StoreError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| StoreError::Config(format!("no system randomness: {e}")))?;
    Ok(format!("modeltrail.local/log-{}", hex::encode(bytes)))
}

/// Loads the data directory's signing key, creating the directory and a new key named `origin`
/// if there is none. An existing key is used as it is, whatever `origin` says.
pub fn load_or_create_signer(data_dir: &Path, origin: &str) -> Result<NoteSigner, StoreError> {
    let path = key_path(data_dir);
    if path.exists() {
        return load_signer(data_dir);
    }
    fs::create_dir_all(data_dir)
        .map_err(|e| StoreError::io(format!("creating {}", data_dir.display()), e))?;
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| StoreError::Config(format!("no system randomness: {e}")))?;
    let signer = NoteSigner::new(origin, SigningKey::from_bytes(&seed))
        .map_err(|e| StoreError::Config(format!("log origin {origin:?}: {e}")))?;
    write_new_file(&path, signer.to_text().as_bytes(), true)?;
    write_new_file(
        &data_dir.join(VERIFIER_KEY_FILE),
        format!("{}\n", signer.verifier().to_text()).as_bytes(),
        false,
    )?;
    sync_dir(data_dir)?;
    tracing::info!(origin, key = %path.display(), "created the log's signing key");
    Ok(signer)
}

/// Loads the data directory's signing key; refuses a key file others can read.
pub fn load_signer(data_dir: &Path) -> Result<NoteSigner, StoreError> {
    let path = key_path(data_dir);
    check_private(&path)?;
    let text = fs::read_to_string(&path)
        .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
    // The error must not echo the key text.
    NoteSigner::from_text(text.trim_end()).map_err(|_| {
        StoreError::Config(format!(
            "{} is not a modeltrail signing key (expected PRIVATE+KEY+<origin>+<id>+<key>)",
            path.display()
        ))
    })
}

/// Loads the 32-byte key webhook secrets are derived from, creating it (random, mode 0600) on
/// first use. The key never enters the log or an export bundle; back it up with the signing key.
pub fn load_or_create_webhook_key(data_dir: &Path) -> Result<[u8; 32], StoreError> {
    let path = data_dir.join(WEBHOOK_KEY_FILE);
    if !path.exists() {
        fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::io(format!("creating {}", data_dir.display()), e))?;
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key)
            .map_err(|e| StoreError::Config(format!("no system randomness: {e}")))?;
        write_new_file(&path, hex::encode(key).as_bytes(), true)?;
        sync_dir(data_dir)?;
        return Ok(key);
    }
    check_private(&path)?;
    let text = fs::read_to_string(&path)
        .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
    let mut key = [0u8; 32];
    // The error must not echo the key text.
    hex::decode_to_slice(text.trim(), &mut key).map_err(|_| {
        StoreError::Config(format!(
            "{} is not a webhook key (expected 64 hex digits)",
            path.display()
        ))
    })?;
    Ok(key)
}

/// Loads the public verifier key from the data directory (written beside the signing key).
pub fn load_verifier(data_dir: &Path) -> Result<NoteVerifier, StoreError> {
    let path = data_dir.join(VERIFIER_KEY_FILE);
    read_verifier_file(&path)
}

/// Reads a verifier key file: `<origin>+<key id>+<base64 key>` on one line.
pub fn read_verifier_file(path: &Path) -> Result<NoteVerifier, StoreError> {
    let text = fs::read_to_string(path)
        .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
    NoteVerifier::from_text(text.trim())
        .map_err(|e| StoreError::Config(format!("{}: {e}", path.display())))
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        fs::metadata(path).map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::Config(format!(
            "{} has mode {mode:o}; a key file must be readable by its owner only (chmod 600)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

#[cfg_attr(not(unix), allow(unused_variables))]
fn write_new_file(path: &Path, contents: &[u8], private: bool) -> Result<(), StoreError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let mut file = options
        .open(path)
        .map_err(|e| StoreError::io(format!("creating {}", path.display()), e))?;
    file.write_all(contents)
        .and_then(|_| file.sync_all())
        .map_err(|e| StoreError::io(format!("writing {}", path.display()), e))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("syncing {}", dir.display()), e))
}
