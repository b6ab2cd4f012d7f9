//! Retention: how long ended runs are kept, per status (`GATEWAY_RETENTION`,
//! `GATEWAY_RETENTION_FINISHED`/`_FAILED`/`_STOPPED`), and the sweep that deletes older ones in
//! small steps, then gives their space back. Pinned runs are kept; pending and running ones too.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use common::wire::RunStatus;

use crate::store::{Purge, Store, StoreError};

/// Rows one purge step deletes: event chunks (one per ingest batch, up to a few MiB each) or
/// artifacts. Each step is a short transaction on the writer; ingest takes the writer between
/// steps (see [`PAUSE`]).
pub const ROWS_PER_STEP: usize = 16;
/// Space one reclaim step gives back.
pub const RECLAIM_BYTES_PER_STEP: u64 = 8 * 1024 * 1024;
/// The wait between two steps, so that batches queued behind one commit before the next.
const PAUSE: Duration = Duration::from_millis(5);
/// How often the sweep runs (and once at start).
const EVERY: Duration = Duration::from_secs(60 * 60);

/// How long each ended status is kept; `None` keeps it forever.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub finished: Option<Duration>,
    pub failed: Option<Duration>,
    pub stopped: Option<Duration>,
}

impl Policy {
    /// `GATEWAY_RETENTION` for every ended status, `GATEWAY_RETENTION_<STATUS>` over it; each
    /// an age (`90d`, `12h`, `30m`, `45s`) or `off` (kept forever, the default).
    pub fn resolve(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let read = |name: &str| -> anyhow::Result<Option<Option<Duration>>> {
            get(name)
                .map(|text| parse_age(&text).with_context(|| format!("{name} {text:?}")))
                .transpose()
        };
        let all = read("GATEWAY_RETENTION")?.flatten();
        Ok(Self {
            finished: read("GATEWAY_RETENTION_FINISHED")?.unwrap_or(all),
            failed: read("GATEWAY_RETENTION_FAILED")?.unwrap_or(all),
            stopped: read("GATEWAY_RETENTION_STOPPED")?.unwrap_or(all),
        })
    }

    /// How long runs in `status` are kept after they end; `None`: forever.
    pub fn keep(&self, status: RunStatus) -> Option<Duration> {
        match status {
            RunStatus::Finished => self.finished,
            // A run its agent came back without ended in failure; it goes with failed runs.
            RunStatus::Failed | RunStatus::Lost => self.failed,
            RunStatus::Stopped => self.stopped,
            RunStatus::Queued | RunStatus::Pending | RunStatus::Running => None,
        }
    }

    pub fn is_off(&self) -> bool {
        self.finished.is_none() && self.failed.is_none() && self.stopped.is_none()
    }

    /// The store's cutoffs at `now_ms`: a run of each status that ended before is expired.
    pub fn cutoffs(&self, now_ms: i64) -> Vec<(RunStatus, i64)> {
        [
            RunStatus::Finished,
            RunStatus::Failed,
            RunStatus::Lost,
            RunStatus::Stopped,
        ]
        .into_iter()
        .filter_map(|s| {
            let keep = i64::try_from(self.keep(s)?.as_millis()).unwrap_or(i64::MAX);
            Some((s, now_ms.saturating_sub(keep)))
        })
        .collect()
    }
}

/// `90d`, `12h`, `30m`, `45s` → `Some(age)`; `off` (or `forever`) → `None`.
pub fn parse_age(text: &str) -> anyhow::Result<Option<Duration>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("forever") {
        return Ok(None);
    }
    let split = text.len().saturating_sub(1);
    let (number, unit) = text.split_at(split);
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => {
            bail!("must be a number of days, hours, minutes or seconds (90d, 12h, 30m, 45s) or off")
        }
    };
    let n: u64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .context("must start with a whole number above 0")?;
    let total = n.checked_mul(seconds).context("is too long")?;
    Ok(Some(Duration::from_secs(total)))
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub runs_deleted: u64,
    /// Expired runs a person pinned while the sweep ran.
    pub runs_kept: u64,
    pub bytes_reclaimed: u64,
}

/// Deletes every run the policy expires at `now_ms`, a few rows at a time, then gives the space
/// back, a few MiB at a time. `gone` is told each run deleted (the gateway forgets its key, so
/// a runner still holding it is refused at once rather than when the remembered key expires).
pub async fn sweep(
    store: &dyn Store,
    policy: &Policy,
    now_ms: i64,
    gone: &(dyn Fn(&str) + Sync),
) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    if policy.is_off() {
        return Ok(swept);
    }
    let cutoffs = policy.cutoffs(now_ms);
    loop {
        let ids = store.expired_runs(cutoffs.clone(), 64).await?;
        if ids.is_empty() {
            break;
        }
        for id in ids {
            loop {
                match store.purge_run(id.clone(), ROWS_PER_STEP).await? {
                    Purge::More => tokio::time::sleep(PAUSE).await,
                    Purge::Gone => {
                        gone(&id);
                        tracing::info!(run = %id, "run deleted by retention");
                        swept.runs_deleted += 1;
                        break;
                    }
                    Purge::Kept => {
                        swept.runs_kept += 1;
                        break;
                    }
                }
            }
        }
    }
    loop {
        let bytes = store.reclaim_space(RECLAIM_BYTES_PER_STEP).await?;
        if bytes == 0 {
            break;
        }
        swept.bytes_reclaimed += bytes;
        tokio::time::sleep(PAUSE).await;
    }
    Ok(swept)
}

/// Sweeps at start and every hour, for as long as the gateway runs; after a sweep that deleted
/// runs, the objects of their artifacts are deleted too (`bodies`). `gone`: see [`sweep`].
pub async fn sweep_forever(
    store: Arc<dyn Store>,
    policy: Policy,
    bodies: crate::artifacts::Bodies,
    gone: impl Fn(&str) + Send + Sync + 'static,
) {
    if policy.is_off() {
        return;
    }
    loop {
        match sweep(store.as_ref(), &policy, crate::clock::now_ms(), &gone).await {
            Ok(s) if s.runs_deleted > 0 || s.bytes_reclaimed > 0 => {
                bodies.deleted();
                tracing::info!(
                    runs = s.runs_deleted,
                    reclaimed_bytes = s.bytes_reclaimed,
                    "retention swept old runs"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention sweep failed; trying again later"),
        }
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_overrides() {
        assert_eq!(
            parse_age("90d").unwrap(),
            Some(Duration::from_secs(90 * 86_400))
        );
        assert_eq!(
            parse_age(" 12h ").unwrap(),
            Some(Duration::from_secs(43_200))
        );
        assert_eq!(parse_age("30m").unwrap(), Some(Duration::from_secs(1_800)));
        assert_eq!(parse_age("OFF").unwrap(), None);
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "1.5d",
            "90",
            "90w",
            "99999999999999999d",
        ] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(Policy::resolve(env(&[])).unwrap().is_off());
        let p = Policy::resolve(env(&[
            ("GATEWAY_RETENTION", "90d"),
            ("GATEWAY_RETENTION_FAILED", "30d"),
            ("GATEWAY_RETENTION_STOPPED", "off"),
        ]))
        .unwrap();
        let day = Duration::from_secs(86_400);
        assert_eq!(p.keep(RunStatus::Finished), Some(day * 90));
        assert_eq!(p.keep(RunStatus::Failed), Some(day * 30));
        assert_eq!(p.keep(RunStatus::Lost), Some(day * 30));
        assert_eq!(p.keep(RunStatus::Stopped), None);
        assert_eq!(p.keep(RunStatus::Running), None);
        assert_eq!(p.keep(RunStatus::Queued), None);
        let now = 1_000 * 86_400_000;
        assert_eq!(
            p.cutoffs(now),
            [
                (RunStatus::Finished, now - 90 * 86_400_000),
                (RunStatus::Failed, now - 30 * 86_400_000),
                (RunStatus::Lost, now - 30 * 86_400_000)
            ]
        );
        let only_failed = Policy::resolve(env(&[("GATEWAY_RETENTION_FAILED", "1h")])).unwrap();
        assert_eq!(only_failed.keep(RunStatus::Finished), None);
        let err = Policy::resolve(env(&[("GATEWAY_RETENTION", "soon")])).unwrap_err();
        assert!(
            format!("{err:#}").contains("GATEWAY_RETENTION \"soon\""),
            "{err:#}"
        );
    }
}
