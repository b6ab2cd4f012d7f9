//! Artifact bodies in S3-compatible object storage (`ARTIFACT_STORE`), against a real server
//! (`s3s-fs`, see `e2e::s3`) started by each test: a large artifact uploaded by the runner's own
//! upload code and downloaded whole, uploads refused or cut off leaving no object, a server
//! that goes away mid-upload, and the objects of deleted and expired runs leaving the bucket.
//! Skipped with a loud line where `s3s-fs` is not installed (`.ci/run` installs it).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use claude_runner::client::{GatewayClient, Signer};
use common::Secret;
use common::sign::sha256_hex;
use common::wire::{ArtifactInfo, RunStatus};
use e2e::s3::{self, S3Server};
use e2e::{Gateway, eventually, run_id_from, runner, script};

const MIB: usize = 1024 * 1024;

/// A gateway whose artifact bodies go to `s3` under the prefix `gw`, taking artifacts up to
/// 64 MiB.
fn gateway_on(dir: &Path, s3: &S3Server, more: &[(&str, &str)], token: Option<String>) -> Gateway {
    let mut env = s3.env("gw");
    env.push(("GATEWAY_MAX_ARTIFACT_BYTES".into(), (64 * MIB).to_string()));
    env.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Gateway::start_env(dir, &env, token)
}

/// The runner's own client for `gw`, and the signer of `run_id`.
fn runner_client(gw: &Gateway, run_id: &str, token: &str) -> (GatewayClient, Signer) {
    let env = BTreeMap::from([
        ("GATEWAY_URL".to_string(), gw.url.clone()),
        (
            "GATEWAY_CA_FILE".to_string(),
            gw.ca_file.display().to_string(),
        ),
    ]);
    let layers = common::settings::Layers {
        env,
        dotenv: BTreeMap::new(),
    };
    let settings = claude_runner::config::Settings::resolve(&Default::default(), &layers, None)
        .expect("runner settings");
    let client = GatewayClient::new(&settings).expect("runner client");
    let signer = Signer::for_run(
        &Secret::new(gw.hmac_secret.clone()),
        run_id,
        &Secret::new(token.to_string()),
    );
    (client, signer)
}

/// `size` bytes of numbered text lines, different for each `seed`.
fn text(size: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 64);
    let mut n = 0u64;
    while out.len() < size {
        out.extend_from_slice(
            format!("{seed}:{n:012} the quick brown fox {}\n", n * 7919 % 1009).as_bytes(),
        );
        n += 1;
    }
    out.truncate(size);
    out
}

/// Downloads an artifact as an admin: status, its `x-artifact-sha256`, its bytes.
async fn download(gw: &Gateway, run_id: &str, name: &str) -> (u16, String, Bytes) {
    let resp = gw
        .client()
        .get(format!("{}/api/runs/{run_id}/artifacts/{name}", gw.url))
        .bearer_auth(&gw.admin_token)
        .send()
        .await
        .expect("download");
    let status = resp.status().as_u16();
    let sha = resp
        .headers()
        .get("x-artifact-sha256")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, sha, resp.bytes().await.expect("body"))
}

async fn artifacts(gw: &Gateway, run_id: &str) -> Vec<ArtifactInfo> {
    serde_json::from_value(gw.admin_get(&format!("/api/runs/{run_id}/artifacts")).await).unwrap()
}

/// The gateway's peak resident memory (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

/// A body sent as it is pushed into the returned sender.
fn channel_body() -> (tokio::sync::mpsc::Sender<Bytes>, reqwest::Body) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    (tx, reqwest::Body::wrap_stream(stream))
}

#[tokio::test]
async fn a_50_mb_artifact_goes_through_the_bucket_whole_and_leaves_with_its_run() {
    let Some(bin) = s3::binary("a_50_mb_artifact_goes_through_the_bucket_whole") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&bin, &dir.path().join("s3"));
    let gw = gateway_on(dir.path(), &s3, &[], None);
    let (run_id, token) = gw.create_run("objects").await;
    let (client, signer) = runner_client(&gw, &run_id, &token);
    let rss_before = peak_rss(gw.pid());

    // 50 MB through the runner's upload (streamed from disk, hashed first).
    let big = text(50_000_000, 1);
    let path = dir.path().join("big.log");
    std::fs::write(&path, &big).unwrap();
    let sha = sha256_hex(&big);
    let info = claude_runner::artifacts::send_file(&client, &signer, &run_id, "big.log", &path, 1)
        .await
        .expect("the upload is stored");
    assert_eq!(
        (info.size, info.sha256.as_str()),
        (big.len() as u64, sha.as_str())
    );
    assert_eq!(artifacts(&gw, &run_id).await, std::slice::from_ref(&info));
    // One object, under the prefix and the run, holding the bytes; no multipart leftovers.
    let objects = s3.objects();
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert!(
        objects[0].starts_with(&format!("gw/{run_id}/")) && objects[0].ends_with("-big.log"),
        "{objects:?}"
    );
    let stored = std::fs::read(s3.root.join(s3::BUCKET).join(&objects[0])).unwrap();
    assert_eq!(
        sha256_hex(&stored),
        sha,
        "the object holds the artifact's bytes"
    );
    drop(stored);
    assert!(!s3.has_upload_parts(), "a completed upload leaves no parts");

    // Downloaded whole, with its digest.
    let (status, header_sha, body) = download(&gw, &run_id, "big.log").await;
    assert_eq!(status, 200);
    assert_eq!((header_sha.as_str(), body.len()), (sha.as_str(), big.len()));
    assert_eq!(sha256_hex(&body), sha, "the download is the upload");
    drop(body);
    let grown = peak_rss(gw.pid()).saturating_sub(rss_before);
    eprintln!(
        "gateway peak RSS {:.1} MiB before, grew by {:.1} MiB over a 50 MB upload and download",
        rss_before as f64 / MIB as f64,
        grown as f64 / MIB as f64
    );
    // Whole in memory, the artifact alone would have added 47 MiB.
    assert!(
        grown < 40 * MIB as u64,
        "the gateway held the artifact whole ({grown} bytes more)"
    );

    // A request whose signature does not cover the bytes sent (12 MB: past the first part) is
    // refused after its body, and its multipart upload is aborted: no object, no parts.
    let forged = text(12 * MIB, 2);
    let wrong = sha256_hex(b"something else");
    let refused = client
        .upload_artifact_hashed(
            &signer,
            &run_id,
            "forged.log",
            forged.clone().into(),
            forged.len() as u64,
            &wrong,
        )
        .await
        .unwrap()
        .expect_err("a bad signature is refused");
    assert_eq!(refused.0.as_u16(), 401, "{:?}", refused.1);
    assert_eq!(refused.1.reason.as_deref(), Some("bad_signature"));
    assert_eq!(s3.objects(), objects);
    assert!(
        !s3.has_upload_parts(),
        "the refused upload's parts were aborted"
    );

    // Too large: 413, nothing kept.
    let huge = Bytes::from(vec![b'x'; 64 * MIB + 1]);
    let refused = client
        .upload_artifact(&signer, &run_id, "huge.log", huge)
        .await
        .unwrap()
        .expect_err("past the limit");
    assert_eq!(refused.0.as_u16(), 413);
    assert_eq!(s3.objects(), objects);

    // Replaced by a small body (one PUT): the old object leaves the bucket.
    let small = text(1000, 3);
    let replaced = client
        .upload_artifact(&signer, &run_id, "big.log", small.clone())
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(replaced.size, 1000);
    let now = eventually(Duration::from_secs(10), || async {
        let now = s3.objects();
        (now.len() == 1 && now != objects).then_some(now)
    })
    .await;
    assert!(now[0].ends_with("-big.log"));
    let (status, _, body) = download(&gw, &run_id, "big.log").await;
    assert_eq!((status, &body[..]), (200, &small[..]));

    // Deleting the run deletes its objects.
    let resp = gw
        .client()
        .delete(format!("{}/api/runs/{run_id}", gw.url))
        .bearer_auth(&gw.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    eventually(Duration::from_secs(10), || async {
        s3.objects().is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_server_that_goes_away_mid_upload_gets_503_and_nothing_is_stored_until_it_is_back() {
    let Some(bin) = s3::binary("a_server_that_goes_away_mid_upload_gets_503") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s3 = S3Server::start(&bin, &dir.path().join("s3"));
    let gw = gateway_on(dir.path(), &s3, &[], None);
    let (run_id, token) = gw.create_run("outage").await;
    let (client, signer) = runner_client(&gw, &run_id, &token);
    let kept = text(4000, 4);
    client
        .upload_artifact(&signer, &run_id, "kept.log", kept.clone())
        .await
        .unwrap()
        .expect("stored while the server is up");

    // 30 MB sent in 1 MiB pieces; the server is killed once parts of it have reached it.
    let body = text(30 * MIB, 5);
    let sha = sha256_hex(&body);
    let (tx, stream) = channel_body();
    let upload = {
        let (client, signer, run_id, sha) =
            (client.clone(), signer.clone(), run_id.clone(), sha.clone());
        let len = body.len() as u64;
        tokio::spawn(async move {
            client
                .upload_artifact_hashed(&signer, &run_id, "cut.log", stream, len, &sha)
                .await
        })
    };
    let mut pieces = body.chunks(MIB).map(Bytes::copy_from_slice);
    for piece in pieces.by_ref().take(12) {
        tx.send(piece).await.unwrap();
    }
    eventually(Duration::from_secs(30), || async {
        s3.has_upload_parts().then_some(())
    })
    .await;
    s3.kill();
    for piece in pieces {
        tx.send(piece).await.unwrap();
    }
    drop(tx);
    let answer = upload.await.unwrap().expect("the gateway answers");
    let (status, err) = answer.expect_err("not stored");
    assert_eq!(status.as_u16(), 503, "{err:?}");
    assert_eq!(err.reason.as_deref(), Some("artifact_store_unavailable"));
    let names: Vec<String> = artifacts(&gw, &run_id)
        .await
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["kept.log"], "an upload that failed is not listed");
    // Reading while the server is away is a 503 too, not a broken or empty body.
    let (status, _, _) = download(&gw, &run_id, "kept.log").await;
    assert_eq!(status, 503);

    // Back on the same port: the runner's retry stores it, whole.
    s3.restart();
    let path = dir.path().join("cut.log");
    std::fs::write(&path, &body).unwrap();
    let info = claude_runner::artifacts::send_file(&client, &signer, &run_id, "cut.log", &path, 5)
        .await
        .expect("stored once the server is back");
    assert_eq!(info.sha256, sha);
    let (status, header_sha, got) = download(&gw, &run_id, "cut.log").await;
    assert_eq!((status, header_sha.as_str()), (200, sha.as_str()));
    assert_eq!(sha256_hex(&got), sha);
    let (status, _, got) = download(&gw, &run_id, "kept.log").await;
    assert_eq!((status, &got[..]), (200, &kept[..]));
    assert_eq!(s3.objects().len(), 2, "{:?}", s3.objects());
}

#[tokio::test]
async fn retention_deletes_an_expired_runs_objects_with_it() {
    let Some(bin) = s3::binary("retention_deletes_an_expired_runs_objects_with_it") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&bin, &dir.path().join("s3"));
    let mut gw = gateway_on(dir.path(), &s3, &[], None);
    let child = script(
        &dir.path().join("fake-claude"),
        "i=0; while [ $i -lt 2000 ]; do echo \"line $i of the run\"; i=$((i+1)); done\n",
    );
    let out = runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--name", "expires", "--cmd", "hello"])
        .env("CLAUDE_COMMAND", &child)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let run_id = run_id_from(&stderr);
    let run = gw
        .runs()
        .await
        .into_iter()
        .find(|r| r.id == run_id)
        .unwrap();
    assert_eq!(run.status, RunStatus::Finished);
    // The runner's artifacts (claude.log, files.json) are objects under the run.
    let names: Vec<String> = artifacts(&gw, &run_id)
        .await
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert!(names.contains(&"claude.log".to_string()), "{names:?}");
    let (status, _, log) = download(&gw, &run_id, "claude.log").await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&log).contains("line 1999 of the run"));
    let objects = s3.objects();
    assert_eq!(objects.len(), names.len(), "{objects:?}");
    assert!(
        objects
            .iter()
            .all(|k| k.starts_with(&format!("gw/{run_id}/"))),
        "{objects:?}"
    );

    // Kept for a second after it ended: the sweep at the next start deletes the run, then its
    // objects.
    let token = gw.admin_token.clone();
    gw.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let gw = gateway_on(dir.path(), &s3, &[("GATEWAY_RETENTION", "1s")], Some(token));
    eventually(Duration::from_secs(20), || async {
        (gw.runs().await.is_empty() && s3.objects().is_empty()).then_some(())
    })
    .await;
}

/// The seam itself, on a store and a bucket: an upload kept for a run deleted meanwhile is
/// refused and its object deleted at once; a body never kept (a signature that failed) leaves
/// nothing; the deleter works through what the deletion queue says is due.
#[tokio::test]
async fn an_upload_for_a_run_deleted_meanwhile_leaves_no_object() {
    use gateway::artifacts::{Bodies, Objects, ObjectsConfig};
    use gateway::store::Store;
    let Some(bin) = s3::binary("an_upload_for_a_run_deleted_meanwhile_leaves_no_object") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(&bin, &dir.path().join("s3"));
    let env: BTreeMap<String, String> = s3.env("seam").into_iter().collect();
    let config = ObjectsConfig::resolve(|name| env.get(name).cloned())
        .unwrap()
        .expect("ARTIFACT_STORE is set");
    let objects = std::sync::Arc::new(Objects::connect(config).unwrap());
    objects.check().await.expect("the bucket answers");
    let bodies = Bodies::Objects(objects.clone());
    let store: std::sync::Arc<dyn Store> =
        gateway::store::open(&gateway::store::Location::Sqlite(dir.path().join("g.db")))
            .await
            .unwrap();
    let new_run = |id: &str| gateway::store::NewRun {
        id: id.into(),
        name: None,
        prompt: None,
        cwd: None,
        key: [7; 32],
        created_at: 1,
    };
    store.create_run(new_run("kept")).await.unwrap();

    // Large (multipart) and small (one PUT), each kept after its run was deleted: refused, and
    // no object stays.
    for (run, size) in [("gone", 12 * MIB), ("gone2", 1000)] {
        store.create_run(new_run(run)).await.unwrap();
        let body = text(size, 6);
        let received = bodies
            .receive(axum::body::Body::from(body.clone()), 64 * MIB, run, "a.log")
            .await
            .unwrap();
        assert_eq!(received.sha256, sha256_hex(&body));
        assert!(store.delete_run(run.into()).await.unwrap());
        let kept = received
            .keep(store.as_ref(), run.into(), "a.log".into(), 2)
            .await;
        assert!(kept.is_err(), "{run}: a run that is gone keeps nothing");
        assert_eq!(s3.objects(), Vec::<String>::new(), "{run}");
    }
    // Discarded (its signature failed): nothing, no parts.
    let received = bodies
        .receive(
            axum::body::Body::from(text(12 * MIB, 7)),
            64 * MIB,
            "kept",
            "b.log",
        )
        .await
        .unwrap();
    received.discard().await;
    assert!(s3.objects().is_empty() && !s3.has_upload_parts());

    // Dropped mid-way (a client that went away drops its request's handler): the multipart
    // upload is aborted.
    let (tx, stream) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body =
        axum::body::Body::from_stream(futures_util::stream::unfold(stream, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
    let receiving = {
        let bodies = bodies.clone();
        tokio::spawn(async move {
            bodies
                .receive(body, 64 * MIB, "kept", "d.log")
                .await
                .map(drop)
        })
    };
    for piece in text(12 * MIB, 9).chunks(MIB) {
        tx.send(Ok(Bytes::copy_from_slice(piece))).await.unwrap();
    }
    eventually(Duration::from_secs(30), || async {
        s3.has_upload_parts().then_some(())
    })
    .await;
    receiving.abort();
    assert!(receiving.await.unwrap_err().is_cancelled());
    eventually(Duration::from_secs(30), || async {
        (!s3.has_upload_parts()).then_some(())
    })
    .await;
    assert!(s3.objects().is_empty());

    // Kept: one object; the deleter leaves it alone until the queue says it is due.
    let info = bodies
        .receive(
            axum::body::Body::from(text(6 * MIB, 8)),
            64 * MIB,
            "kept",
            "c.log",
        )
        .await
        .unwrap()
        .keep(store.as_ref(), "kept".into(), "c.log".into(), 3)
        .await
        .unwrap();
    assert_eq!(info.size, 6 * MIB as u64);
    assert_eq!(objects.sweep(store.as_ref()).await.unwrap(), 0);
    assert_eq!(s3.objects().len(), 1);
    assert!(store.delete_run("kept".into()).await.unwrap());
    assert_eq!(objects.sweep(store.as_ref()).await.unwrap(), 1);
    assert!(s3.objects().is_empty());
}
