//! The short version of the load test: 100 simulated runners streaming 10 lines/s for 30 s to the
//! real gateway, 20 of their runs watched live. It checks correctness under load, not speed: no
//! request fails, every run is stored whole (`delivery: complete`), and every viewer sees its
//! run's whole stream exactly once, in order. (`loadgen` runs the full-size version and reports
//! timings; these shared machines are too noisy to assert any.)

use std::time::Duration;

use e2e::Gateway;
use e2e::load::{LoadConfig, Target, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_runners_and_twenty_viewers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(dir.path());
    let cfg = LoadConfig {
        runners: 100,
        lines_per_sec: 10.0,
        duration: Duration::from_secs(30),
        viewers: 20,
        line_bytes: 100,
    };
    let report = run(&Target::of(&gateway), &cfg).await;
    eprintln!("{report:?}");
    assert!(report.errors.is_empty(), "errors: {:?}", report.errors);
    assert_eq!(report.lost_events, 0, "events lost");
    assert_eq!(report.incomplete_runs, 0, "runs not stored whole");
    assert_eq!(
        report.viewers_short, 0,
        "viewers that missed part of a stream"
    );
    // Each runner sent its lines and a `finished` marker; the viewers timed every line they saw.
    assert!(report.events_sent >= 100 * 2, "{}", report.events_sent);
    assert!(
        report.latency.0.len() as u64 >= 20,
        "viewers saw {} lines",
        report.latency.0.len()
    );
}
