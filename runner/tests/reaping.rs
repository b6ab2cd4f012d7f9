//! The reaping at the end of a Claude turn kills every child of the runner it does not know (the
//! orphans a turn leaves behind). The runner's own helpers (`git` asked for a repository's
//! filters before an allowlisted `git diff`, checkpoints, clones) run beside turns and must not be
//! among them. Alone in this file: the reaping reaches every child of the test process.

use std::process::Command;
use std::time::{Duration, Instant};

use claude_runner::child::{self, Reach};

#[test]
fn a_helper_running_as_a_turn_ends_survives_its_reaping_and_an_unknown_child_does_not() {
    let helper = std::thread::spawn(|| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 0.5; echo done"]);
        child::output_protected(&mut cmd).expect("the helper runs")
    });
    let until = Instant::now() + Duration::from_millis(900);
    let mut killed = 0;
    while Instant::now() < until {
        killed += child::reap_leftovers(0, Reach::Orphans, &[]);
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = helper.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"done\n");
    assert_eq!(killed, 0, "the helper was killed");

    // What the reaping is for still goes: a child nobody registered.
    let mut unknown = Command::new("sleep").arg("30").spawn().unwrap();
    assert_eq!(child::reap_leftovers(0, Reach::Orphans, &[]), 1);
    // Already waited for by the reaping, which is what this answers (an error, or its status).
    let _ = unknown.wait();
}
