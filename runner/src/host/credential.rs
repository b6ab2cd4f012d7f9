//! The agent's own credential: enrolled once with a one-time token, then kept in
//! `<RUNNER_DATA_DIR>/agent.json` (0600, written whole). It is never `HMAC_SECRET`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use common::agents::{AgentProfile, EnrollRequest, Enrolled};
use serde::{Deserialize, Serialize};

use crate::client::{GatewayClient, Signer, error_body};

/// What `agent.json` holds.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credential {
    pub agent_id: String,
    pub name: String,
    /// The gateway it enrolled with: another gateway does not know this agent.
    pub gateway_url: String,
    /// The agent key, hex.
    key: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("agent_id", &self.agent_id)
            .field("name", &self.name)
            .field("gateway_url", &self.gateway_url)
            .field("key", &"********")
            .finish()
    }
}

impl Credential {
    /// The signer of the agent's own requests.
    pub fn signer(&self) -> anyhow::Result<Signer> {
        let key = hex::decode(&self.key)
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .context("agent.json holds no valid key")?;
        Ok(Signer::Agent {
            caller: format!("{}{}", common::agents::AGENT_CALLER_PREFIX, self.agent_id),
            key,
        })
    }
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("agent.json")
}

/// The saved credential, if this data directory has enrolled.
pub fn load(data_dir: &Path) -> anyhow::Result<Option<Credential>> {
    let path = path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(
            serde_json::from_slice(&bytes).with_context(|| format!("read {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

/// Enroll with a one-time token and save the credential (0600) before using it.
pub async fn enroll(
    client: &GatewayClient,
    gateway_url: &str,
    data_dir: &Path,
    token: &str,
    name: &str,
    profile: AgentProfile,
) -> anyhow::Result<Credential> {
    let body = serde_json::to_vec(&EnrollRequest {
        token: token.to_string(),
        name: name.to_string(),
        profile,
    })?;
    let resp = client
        .post_unsigned("api/agent/enroll", body)
        .await
        .context("enroll with the gateway")?;
    if !resp.status().is_success() {
        let status = resp.status();
        let err = error_body(resp).await;
        anyhow::bail!(
            "the gateway refused the enrollment ({status}, {}): {}",
            err.reason.unwrap_or(err.error),
            err.message
        );
    }
    let enrolled: Enrolled = resp.json().await.context("read the enrollment answer")?;
    let credential = Credential {
        agent_id: enrolled.agent_id,
        name: name.to_string(),
        gateway_url: gateway_url.to_string(),
        key: enrolled.key,
    };
    let path = path(data_dir);
    crate::outbox::write_atomic(&path, &serde_json::to_vec_pretty(&credential)?)
        .with_context(|| format!("save {}", path.display()))?;
    Ok(credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let c = Credential {
            agent_id: "a_1".into(),
            name: "box".into(),
            gateway_url: "https://gw".into(),
            key: "ab".repeat(32),
        };
        assert!(!format!("{c:?}").contains("abab"));
        assert!(
            matches!(c.signer().unwrap(), Signer::Agent { caller, .. } if caller == "agent:a_1")
        );
    }
}
