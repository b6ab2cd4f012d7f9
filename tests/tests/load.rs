//! The short version of the load test: 100 simulated runners streaming 10 lines/s for 30 s to the
//! real gateway, 20 of their runs watched live, every runner long-polling for commands beside 50
//! runners that only long-poll. It checks correctness under load, not speed: no
//! request fails, every run is stored whole (`delivery: complete`), and every viewer sees its
//! run's whole stream exactly once, in order. (`loadgen` runs the full-size version and reports
//! timings; these shared machines are too noisy to assert any.)

use std::time::Duration;

use e2e::Gateway;
use e2e::load::{LoadConfig, Target, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_runners_fifty_idle_pollers_and_twenty_viewers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(dir.path());
    let cfg = LoadConfig {
        idle: 50,
        long_poll: true,
        ..LoadConfig::streaming(100, 10.0, Duration::from_secs(30), 20)
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
    // Each idle runner's first poll ends within the 30 s (they are spread over the window).
    assert!(report.polls >= 50, "{} polls answered", report.polls);
    assert!(
        report.peak_sockets >= 100 + 50 + 20,
        "the gateway held {} sockets",
        report.peak_sockets
    );
    assert!(
        report.latency.0.len() as u64 >= 20,
        "viewers saw {} lines",
        report.latency.0.len()
    );
}
