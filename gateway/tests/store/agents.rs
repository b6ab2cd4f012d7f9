//! Conformance cases of agents, enrollment tokens and the queue of runs (re-exported by
//! `conformance.rs`, so the macro runs them on every backend).

use std::collections::BTreeMap;
use std::sync::Arc;

use common::agents::{AgentProfile, Ceilings, RunRequest};
use common::wire::RunStatus;
use gateway::store::{NewAgent, NewRun, QueuedRun, Store, StoreError};

use super::conformance::Database;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn profile(capacity: u32, pairs: &[(&str, &str)]) -> AgentProfile {
    AgentProfile {
        labels: labels(pairs),
        capacity,
        version: "0.1.0".into(),
        ceilings: Ceilings {
            roots: vec!["/srv".into()],
            ..Ceilings::default()
        },
        draining: false,
    }
}

fn agent(id: &str, name: &str, profile: AgentProfile, at: i64) -> NewAgent {
    NewAgent {
        id: id.into(),
        name: name.into(),
        key: [9; 32],
        profile,
        created_at: at,
    }
}

/// Enrolls agent `id` named `name` with a fresh token.
async fn enrolled(store: &Arc<dyn Store>, id: &str, name: &str, profile: AgentProfile) {
    let hash = [id.len() as u8 ^ name.as_bytes()[0]; 32];
    let mut token = hash;
    token[0] = token[0].wrapping_add(id.as_bytes()[id.len() - 1]);
    store.create_enrollment(token, 1, 1_000_000).await.unwrap();
    store
        .enroll_agent(token, agent(id, name, profile, 10))
        .await
        .unwrap();
}

fn request(pairs: &[(&str, &str)]) -> RunRequest {
    RunRequest {
        prompt: "do it".into(),
        labels: labels(pairs),
        ..RunRequest::default()
    }
}

async fn queue(store: &Arc<dyn Store>, id: &str, request: RunRequest) {
    store
        .queue_run(QueuedRun {
            run: NewRun {
                id: id.into(),
                name: Some(id.into()),
                prompt: Some(request.prompt.clone()),
                cwd: request.cwd.clone(),
                key: [id.len() as u8; 32],
                created_at: 100,
            },
            request,
        })
        .await
        .unwrap();
}

async fn status(store: &Arc<dyn Store>, id: &str) -> RunStatus {
    store.run(id.into()).await.unwrap().unwrap().summary.status
}

pub async fn an_enrollment_token_enrolls_once(db: &dyn Database) {
    let store = db.open().await;
    let token = [1; 32];
    store.create_enrollment(token, 1, 100).await.unwrap();
    assert!(matches!(
        store.create_enrollment(token, 1, 100).await,
        Err(StoreError::Conflict)
    ));
    // Expired at the enrollment's time.
    assert!(matches!(
        store
            .enroll_agent(token, agent("a_late", "late", profile(1, &[]), 100))
            .await,
        Err(StoreError::NotFound)
    ));
    store
        .enroll_agent(token, agent("a_1", "box", profile(1, &[]), 50))
        .await
        .unwrap();
    assert!(matches!(
        store
            .enroll_agent(token, agent("a_2", "other", profile(1, &[]), 50))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .enroll_agent([2; 32], agent("a_3", "nobody", profile(1, &[]), 50))
            .await,
        Err(StoreError::NotFound)
    ));
    // A taken name leaves the token unused.
    let second = [3; 32];
    store.create_enrollment(second, 1, 100).await.unwrap();
    assert!(matches!(
        store
            .enroll_agent(second, agent("a_4", "box", profile(1, &[]), 50))
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(store.agent("a_4".into()).await.unwrap().is_none());
    // Once the holder of the name is revoked, the name is free again.
    assert!(store.revoke_agent("a_1".into(), 60).await.unwrap());
    assert!(!store.revoke_agent("a_1".into(), 61).await.unwrap());
    store
        .enroll_agent(second, agent("a_4", "box", profile(1, &[]), 70))
        .await
        .unwrap();
    let record = store.agent("a_1".into()).await.unwrap().unwrap();
    assert_eq!(record.key, [9; 32]);
    assert!(record.summary.revoked);
    let names: Vec<_> = store
        .list_agents()
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.id, a.revoked))
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&("a_1".into(), true)) && names.contains(&("a_4".into(), false)));
}

pub async fn agents_are_seen_drained_revoked_and_go_offline(db: &dyn Database) {
    let store = db.open().await;
    enrolled(&store, "a_1", "box", profile(1, &[])).await;
    let seen = store
        .agent_seen("a_1".into(), Some(profile(3, &[("os", "linux")])), 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.profile.capacity, 3);
    assert_eq!(seen.last_seen, 500);
    assert!(seen.online && !seen.drain_requested);
    // A poll without a profile keeps the stored one.
    let seen = store
        .agent_seen("a_1".into(), None, 600)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.profile.labels, labels(&[("os", "linux")]));
    assert!(store.set_agent_drain("a_1".into(), true).await.unwrap());
    assert!(!store.set_agent_drain("a_x".into(), true).await.unwrap());
    assert!(
        store
            .agent("a_1".into())
            .await
            .unwrap()
            .unwrap()
            .summary
            .drain_requested
    );

    assert_eq!(
        store.mark_agents_offline(600).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(store.mark_agents_offline(601).await.unwrap(), ["a_1"]);
    assert_eq!(
        store.mark_agents_offline(700).await.unwrap(),
        Vec::<String>::new()
    );
    assert!(
        !store
            .agent("a_1".into())
            .await
            .unwrap()
            .unwrap()
            .summary
            .online
    );
    assert!(
        store
            .agent_seen("a_1".into(), None, 800)
            .await
            .unwrap()
            .unwrap()
            .online
    );

    assert!(store.revoke_agent("a_1".into(), 900).await.unwrap());
    assert!(
        store
            .agent_seen("a_1".into(), None, 901)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .agent_seen("a_x".into(), None, 901)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn queued_runs_are_taken_in_order_by_matching_agents_within_capacity(db: &dyn Database) {
    let store = db.open().await;
    enrolled(&store, "a_web", "web", profile(2, &[("repo", "web")])).await;
    enrolled(&store, "a_api", "api", profile(1, &[("repo", "api")])).await;
    queue(&store, "r1", request(&[("repo", "api")])).await;
    queue(&store, "r2", request(&[("repo", "web")])).await;
    queue(&store, "r3", request(&[])).await;
    queue(&store, "r4", request(&[("repo", "web")])).await;
    queue(
        &store,
        "r5",
        RunRequest {
            agent: Some("api".into()),
            ..request(&[])
        },
    )
    .await;
    queue(
        &store,
        "r6",
        RunRequest {
            cwd: Some("/etc".into()),
            ..request(&[])
        },
    )
    .await;
    assert_eq!(status(&store, "r1").await, RunStatus::Queued);

    let claim = |agent: &str| {
        let (store, agent) = (store.clone(), agent.to_string());
        async move {
            store
                .claim_run(agent, 1_000)
                .await
                .unwrap()
                .map(|c| c.run_id)
        }
    };
    // In queue order, skipping what the agent may not take; never beyond capacity.
    assert_eq!(claim("a_web").await.as_deref(), Some("r2"));
    assert_eq!(claim("a_web").await.as_deref(), Some("r3"));
    assert_eq!(claim("a_web").await, None);
    assert_eq!(claim("a_api").await.as_deref(), Some("r1"));
    assert_eq!(claim("a_api").await, None);
    let taken = store.run("r2".into()).await.unwrap().unwrap();
    assert_eq!(taken.summary.status, RunStatus::Pending);
    assert_eq!(taken.summary.agent.as_deref(), Some("web"));
    assert_eq!(claim("a_nobody").await, None);

    // A cancelled run is never taken; a taken one cannot be cancelled.
    assert!(
        store
            .cancel_queued_run("r4".into(), "no longer needed".into(), 1_100)
            .await
            .unwrap()
    );
    assert!(
        !store
            .cancel_queued_run("r2".into(), "too late".into(), 1_100)
            .await
            .unwrap()
    );
    let cancelled = store.run("r4".into()).await.unwrap().unwrap().summary;
    assert_eq!(cancelled.status, RunStatus::Stopped);
    assert_eq!(cancelled.reason.as_deref(), Some("no longer needed"));

    // A run that ends frees its slot.
    store
        .append_events(
            "r2".into(),
            [common::wire::Event {
                sequence: 1,
                kind: common::wire::EventKind::Marker,
                data: serde_json::json!({"event": "finished", "exitCode": 0, "durationMs": 1}),
                ts: 1,
            }
            .to_raw()]
            .into(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        claim("a_web").await,
        None,
        "r4 was cancelled, r5 is api's, r6 is outside /srv"
    );
    // Draining, an agent takes nothing; nor offline.
    store.set_agent_drain("a_api".into(), true).await.unwrap();
    store
        .append_events(
            "r1".into(),
            [common::wire::Event {
                sequence: 1,
                kind: common::wire::EventKind::Marker,
                data: serde_json::json!({"event": "finished", "exitCode": 0, "durationMs": 1}),
                ts: 1,
            }
            .to_raw()]
            .into(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(claim("a_api").await, None);
    store.set_agent_drain("a_api".into(), false).await.unwrap();
    store.mark_agents_offline(i64::MAX).await.unwrap();
    assert_eq!(claim("a_api").await, None);
    store.agent_seen("a_api".into(), None, 2_000).await.unwrap();
    let r5 = store
        .claim_run("a_api".into(), 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r5.run_id, "r5");
    assert_eq!(r5.key, [2; 32]);
    assert_eq!(r5.request.agent.as_deref(), Some("api"));
    assert_eq!(status(&store, "r6").await, RunStatus::Queued);
}

pub async fn an_offline_agent_marks_its_runs_and_a_returning_one_loses_what_it_lacks(
    db: &dyn Database,
) {
    let store = db.open().await;
    enrolled(&store, "a_1", "box", profile(3, &[])).await;
    for id in ["r1", "r2", "r3"] {
        queue(&store, id, request(&[])).await;
        store.claim_run("a_1".into(), 100).await.unwrap().unwrap();
    }
    store
        .append_events(
            "r3".into(),
            [common::wire::Event {
                sequence: 1,
                kind: common::wire::EventKind::Marker,
                data: serde_json::json!({"event": "finished", "exitCode": 0, "durationMs": 1}),
                ts: 1,
            }
            .to_raw()]
            .into(),
            None,
        )
        .await
        .unwrap();
    store.mark_agents_offline(i64::MAX).await.unwrap();
    let offline = |id: &'static str| {
        let store = store.clone();
        async move {
            store
                .run(id.into())
                .await
                .unwrap()
                .unwrap()
                .summary
                .agent_offline
        }
    };
    assert!(offline("r1").await && offline("r2").await);
    assert!(!offline("r3").await, "an ended run waits for nothing");
    assert!(
        store
            .list_runs(10)
            .await
            .unwrap()
            .iter()
            .any(|r| r.agent_offline)
    );

    store.agent_seen("a_1".into(), None, 5_000).await.unwrap();
    assert!(!offline("r1").await);
    let lost = store
        .lose_runs("a_1".into(), vec!["r2".into()], "gone".into(), 5_000)
        .await
        .unwrap();
    assert_eq!(lost, ["r1"]);
    let r1 = store.run("r1".into()).await.unwrap().unwrap().summary;
    assert_eq!(r1.status, RunStatus::Lost);
    assert_eq!(r1.reason.as_deref(), Some("gone"));
    assert_eq!(r1.finished_at, Some(5_000));
    assert_eq!(status(&store, "r2").await, RunStatus::Pending);
    assert_eq!(status(&store, "r3").await, RunStatus::Finished);
    // A lost run takes no more events.
    assert!(matches!(
        store
            .append_events(
                "r1".into(),
                [common::wire::Event {
                    sequence: 1,
                    kind: common::wire::EventKind::Stdout,
                    data: serde_json::json!("late"),
                    ts: 1,
                }
                .to_raw()]
                .into(),
                None,
            )
            .await,
        Err(StoreError::RunFinished)
    ));

    // It all survives a reopen.
    let again = db.open().await;
    let agent = again.agent("a_1".into()).await.unwrap().unwrap().summary;
    assert_eq!((agent.running, agent.profile.capacity), (1, 3));
    assert_eq!(status(&again, "r1").await, RunStatus::Lost);
}

pub async fn two_stores_claiming_take_each_run_once(db: &dyn Database) {
    let a = db.open().await;
    let b = db.open().await;
    for n in 0..6 {
        enrolled(&a, &format!("a_{n}"), &format!("agent{n}"), profile(3, &[])).await;
    }
    for n in 0..40 {
        queue(&a, &format!("r{n:02}"), request(&[])).await;
    }
    let mut tasks = Vec::new();
    for n in 0..6 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(c) = store.claim_run(format!("a_{n}"), 10).await.unwrap() {
                got.push(c.run_id);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let got = t.await.unwrap();
        assert!(got.len() <= 3, "capacity 3: {got:?}");
        all.extend(got);
    }
    all.sort();
    let want: Vec<String> = (0..18).map(|n| format!("r{n:02}")).collect();
    assert_eq!(all, want, "the 18 oldest, each once");
    assert_eq!(status(&a, "r18").await, RunStatus::Queued);
}

pub async fn api_tokens_are_found_by_hash_until_revoked_and_requests_are_kept(db: &dyn Database) {
    let store = db.open().await;
    let info = common::agents::ApiTokenInfo {
        id: "t_1".into(),
        name: "ci".into(),
        person_id: "p_1".into(),
        scopes: vec!["read_runs".into(), "create_runs".into()],
        created_at: 5,
        expires_at: Some(1_000),
        first_used_at: None,
        revoked: false,
    };
    store.create_api_token(info.clone(), [4; 32]).await.unwrap();
    assert!(matches!(
        store.create_api_token(info.clone(), [5; 32]).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.api_token([4; 32]).await.unwrap(), Some(info.clone()));
    assert_eq!(store.api_token([6; 32]).await.unwrap(), None);
    // The first use is noted once.
    assert!(store.note_api_token_used("t_1".into(), 7).await.unwrap());
    assert!(!store.note_api_token_used("t_1".into(), 8).await.unwrap());
    let used = store.api_token([4; 32]).await.unwrap().unwrap();
    assert_eq!(used.first_used_at, Some(7));
    assert!(store.revoke_api_token("t_1".into()).await.unwrap());
    assert!(!store.revoke_api_token("t_1".into()).await.unwrap());
    // A revoked token is still found, marked, so a refusal can say why.
    assert!(store.api_token([4; 32]).await.unwrap().unwrap().revoked);
    let listed = store.list_api_tokens().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked);
    // Replacing by id takes the new hash and is live again; the old hash is gone.
    store
        .put_api_token(
            common::agents::ApiTokenInfo {
                expires_at: None,
                ..info.clone()
            },
            [9; 32],
        )
        .await
        .unwrap();
    assert_eq!(store.api_token([4; 32]).await.unwrap(), None);
    let put = store.api_token([9; 32]).await.unwrap().unwrap();
    assert!(!put.revoked && put.expires_at.is_none());
    assert_eq!(store.claim_api_tokens("p_2".into()).await.unwrap(), 0);

    let req = RunRequest {
        resume: Some(common::agents::Resume {
            session_id: "s".into(),
            from_run: "r0".into(),
        }),
        ..request(&[("os", "linux")])
    };
    queue(&store, "r1", req.clone()).await;
    assert_eq!(store.run_request("r1".into()).await.unwrap(), Some(req));
    assert_eq!(store.run_request("zz".into()).await.unwrap(), None);
    store
        .create_run(NewRun {
            id: "plain".into(),
            name: None,
            prompt: None,
            cwd: None,
            key: [1; 32],
            created_at: 1,
        })
        .await
        .unwrap();
    assert_eq!(store.run_request("plain".into()).await.unwrap(), None);
}
