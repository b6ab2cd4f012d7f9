//! First-start secrets: the shared HMAC secret, the admin token, and the `runner.env` hand-off.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use common::Secret;

use crate::auth::tokens::token_hash;
use crate::store::Store;

const ADMIN_HASH_KEY: &str = "admin_token_sha256";

/// What the gateway runs with, and what must be shown to the person starting it (once).
#[derive(Debug)]
pub struct Secrets {
    pub hmac_secret: Secret,
    /// Set when the secret was generated on this start (it is saved in `hmac_path`).
    pub hmac_generated: bool,
    pub hmac_path: PathBuf,
    pub admin_token_hash: [u8; 32],
    /// A newly generated admin token, to print once.
    pub new_admin_token: Option<Secret>,
}

/// `n` random bytes as base64url text.
pub fn random_token(n: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(common::sign::encode_nonce(&buf))
}

/// Write `contents` to `path` readable by the owner only, replacing it atomically.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("create {}", tmp.display()))?;
    f.write_all(contents)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("write {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
    fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?;
    Ok(())
}

/// Load the secrets, creating what is missing.
pub async fn load_or_create(
    data_dir: &Path,
    configured_hmac: Option<Secret>,
    configured_admin: Option<Secret>,
    rotate_admin: bool,
    store: &dyn Store,
) -> anyhow::Result<Secrets> {
    let hmac_path = data_dir.join("hmac_secret");
    let (hmac_secret, hmac_generated) = match configured_hmac {
        Some(s) => (s, false),
        None if hmac_path.exists() => {
            let text = fs::read_to_string(&hmac_path)
                .with_context(|| format!("read {}", hmac_path.display()))?;
            let s = text.trim().to_string();
            anyhow::ensure!(
                s.len() >= 16,
                "{} holds a secret shorter than 16 characters",
                hmac_path.display()
            );
            (Secret::new(s), false)
        }
        None => {
            let s = random_token(32)?;
            write_private(&hmac_path, format!("{s}\n").as_bytes())?;
            (Secret::new(s), true)
        }
    };

    let stored = store
        .get_meta(ADMIN_HASH_KEY.into())
        .await
        .context("read admin token hash")?;
    let (admin_token_hash, new_admin_token) = match (configured_admin, stored) {
        (Some(token), _) => {
            let h = token_hash(token.expose());
            store
                .set_meta(ADMIN_HASH_KEY.into(), hex::encode(h))
                .await?;
            (h, None)
        }
        (None, Some(hex_hash)) if !rotate_admin => (stored_hash(&hex_hash)?, None),
        (None, stored) => {
            let token = random_token(32)?;
            let h = token_hash(&token);
            let mine = hex::encode(h);
            if stored.is_some() {
                // Rotation: this one replaces the stored one.
                store.set_meta(ADMIN_HASH_KEY.into(), mine).await?;
                (h, Some(Secret::new(token)))
            } else {
                // Gateways starting together on one new database each make a token: the first
                // stored is the one, and only the gateway that made it shows it.
                let first = store
                    .meta_or_insert(ADMIN_HASH_KEY.into(), mine.clone())
                    .await?;
                if first == mine {
                    (h, Some(Secret::new(token)))
                } else {
                    (stored_hash(&first)?, None)
                }
            }
        }
    };

    Ok(Secrets {
        hmac_secret,
        hmac_generated,
        hmac_path,
        admin_token_hash,
        new_admin_token,
    })
}

/// The admin token hash as `meta` holds it (hex).
fn stored_hash(hex_hash: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(hex_hash.trim()).context("stored admin token hash is not hex")?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored admin token hash has the wrong length"))
}

/// Write `<data>/runner.env`: what a runner on this machine needs to reach the gateway.
pub fn write_runner_env(
    data_dir: &Path,
    base_url: &str,
    secret: &Secret,
    ca_file: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    let path = data_dir.join("runner.env");
    let mut text = format!(
        "# Written by the gateway at start-up: settings for a claude-runner on this machine.\n\
         GATEWAY_URL={base_url}\nHMAC_SECRET={}\n",
        secret.expose()
    );
    if let Some(ca) = ca_file {
        text.push_str(&format!("GATEWAY_CA_FILE={}\n", ca.display()));
    }
    write_private(&path, text.as_bytes())?;
    Ok(path)
}
