//! The ingest rules every backend applies: which events of a batch are new, when a batch leaves a
//! gap, how a run's status moves, and the delivery check of its `finished` marker.
//!
//! Pure: a backend reads the run's [`Progress`], calls [`plan_append_with`], and writes what it
//! returns, all inside one transaction with the run's row locked (see `store/mod.rs`, "What a
//! backend must guarantee"). What each lifecycle marker does to the run is `progress.rs`.

use common::wire::{EventKind, RawEvent, RunStatus};

use super::StoreError;
pub(crate) use super::progress::Progress;
use super::progress::apply_marker;

/// Checks a batch against the stored `before` and works out what to write.
///
/// Returns the new events (in order) and the run's progress once they are stored. Events with
/// `sequence <= last_seq` are resends and are dropped. The rest must be `last_seq + 1, +2, …` or the
/// answer is [`StoreError::Gap`]; a terminal run refuses new events with [`StoreError::RunFinished`]
/// (checked first: resending would not help). The first event moves `pending` to `running`; a
/// `finished` marker ends the run as `finished` (exit code 0), `failed` (any other or no exit code) or
/// `stopped` (a `stop_requested` marker came before it), and its `eventCount`/`streamSha256` are checked
/// against the events stored before it ([`delivery_of`]). `finished` is the last event of a run: a
/// batch with new events after its `finished` marker is refused whole with [`StoreError::Invalid`].
/// Every stored event feeds the stream digest.
#[cfg(test)]
pub(crate) fn plan_append<'a>(
    before: &Progress,
    events: &'a [RawEvent],
) -> Result<(Vec<&'a RawEvent>, Progress), StoreError> {
    plan_append_with(before, events, |_, _| {})
}

/// [`plan_append`], handing each new event's canonical line (`common::digest`, the bytes the
/// stream digest hashes) to `on_line` as well. Every event's `data` must be in canonical form
/// (`common::canonical`; the ingest handler sees to it). On an error, what `on_line` saw must be
/// thrown away.
pub(crate) fn plan_append_with<'a>(
    before: &Progress,
    events: &'a [RawEvent],
    mut on_line: impl FnMut(&RawEvent, &[u8]),
) -> Result<(Vec<&'a RawEvent>, Progress), StoreError> {
    let fresh: Vec<&RawEvent> = events
        .iter()
        .filter(|e| e.sequence > before.last_seq)
        .collect();
    if fresh.is_empty() {
        return Ok((fresh, before.clone()));
    }
    if before.status.is_terminal() {
        return Err(StoreError::RunFinished);
    }
    // `fresh` is non-empty, so `last_seq < u64::MAX` and the addition cannot overflow.
    let expected = before.last_seq + 1;
    let contiguous = fresh
        .iter()
        .zip(expected..)
        .all(|(event, want)| event.sequence == want);
    if !contiguous {
        return Err(StoreError::Gap { expected });
    }

    let mut after = before.clone();
    let mut line = Vec::with_capacity(256);
    // A queued run's key is handed out only when an agent takes it (then it is `pending`).
    if after.status == RunStatus::Queued {
        return Err(StoreError::Invalid("the run is still queued".into()));
    }
    if after.status == RunStatus::Pending {
        after.status = RunStatus::Running;
    }
    for event in &fresh {
        if after.status.is_terminal() {
            return Err(StoreError::Invalid(format!(
                "event {}: events after finished",
                event.sequence
            )));
        }
        after.last_seq = event.sequence;
        after.last_event_at = Some(after.last_event_at.map_or(event.ts, |t| t.max(event.ts)));
        if event.kind == EventKind::Marker {
            apply_marker(&mut after, event);
        }
        line.clear();
        common::digest::canonical_raw_line(
            event.data.get(),
            event.sequence,
            event.kind.as_str(),
            &mut line,
        );
        after.stream.push_line(&line);
        on_line(event, &line);
    }
    Ok((fresh, after))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use common::digest::StreamDigest;
    use common::wire::{Delivery, Event};
    use serde_json::{Value, json};

    pub(crate) fn ev(sequence: u64, kind: EventKind, data: Value) -> RawEvent {
        Event {
            sequence,
            kind,
            data,
            ts: 1000 + sequence as i64,
        }
        .to_raw()
    }

    fn out(sequence: u64) -> RawEvent {
        ev(sequence, EventKind::Stdout, json!("line"))
    }

    pub(crate) fn fin(sequence: u64, code: Value) -> RawEvent {
        ev(
            sequence,
            EventKind::Marker,
            json!({"event": "finished", "exitCode": code, "durationMs": 5}),
        )
    }

    fn stop(sequence: u64) -> RawEvent {
        ev(
            sequence,
            EventKind::Marker,
            json!({"event": "stop_requested", "reason": "command"}),
        )
    }

    pub(crate) fn fresh_run() -> Progress {
        Progress {
            status: RunStatus::Pending,
            last_seq: 0,
            last_event_at: None,
            exit_code: None,
            finished_at: None,
            stop_requested: false,
            stream: StreamDigest::new(),
            delivery: None,
            claude: None,
        }
    }

    fn seqs(events: &[&RawEvent]) -> Vec<u64> {
        events.iter().map(|e| e.sequence).collect()
    }

    #[test]
    fn statuses_after_one_batch() {
        let cases: Vec<(&str, Vec<RawEvent>, RunStatus, Option<i32>)> = vec![
            ("empty", vec![], RunStatus::Pending, None),
            ("output", vec![out(1), out(2)], RunStatus::Running, None),
            (
                "exit 0",
                vec![out(1), fin(2, json!(0))],
                RunStatus::Finished,
                Some(0),
            ),
            ("exit 3", vec![fin(1, json!(3))], RunStatus::Failed, Some(3)),
            ("no code", vec![fin(1, json!("x"))], RunStatus::Failed, None),
            (
                "huge code",
                vec![fin(1, json!(1u64 << 40))],
                RunStatus::Failed,
                None,
            ),
            (
                "stopped",
                vec![stop(1), fin(2, json!(130))],
                RunStatus::Stopped,
                Some(130),
            ),
            (
                "marker without event",
                vec![ev(1, EventKind::Marker, json!("finished"))],
                RunStatus::Running,
                None,
            ),
        ];
        for (name, batch, status, code) in cases {
            let (new, after) = plan_append(&fresh_run(), &batch).expect(name);
            assert_eq!(new.len(), batch.len(), "{name}");
            assert_eq!(after.status, status, "{name}");
            assert_eq!(after.exit_code, code, "{name}");
            assert_eq!(after.last_seq, batch.len() as u64, "{name}");
        }
    }

    #[test]
    fn events_after_finished_refuse_the_batch() {
        for batch in [
            vec![fin(1, json!(0)), stop(2)],
            vec![fin(1, json!(0)), fin(2, json!(9))],
            vec![out(1), fin(2, json!(0)), out(3)],
        ] {
            match plan_append(&fresh_run(), &batch) {
                Err(StoreError::Invalid(why)) => assert!(why.contains("after finished"), "{why}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn finish_records_time_and_latest_event() {
        let mut batch = vec![out(1), fin(2, json!(0))];
        batch[0].ts = 9_999; // clocks may step back; last_event_at keeps the maximum
        let (_, after) = plan_append(&fresh_run(), &batch).unwrap();
        assert_eq!(after.finished_at, Some(1002));
        assert_eq!(after.last_event_at, Some(9_999));
    }

    #[test]
    fn resends_are_dropped_and_gaps_refused() {
        let before = Progress {
            status: RunStatus::Running,
            last_seq: 5,
            last_event_at: Some(1005),
            ..fresh_run()
        };
        let ok: Vec<(Vec<u64>, Vec<u64>)> = vec![
            (vec![4, 5], vec![]),
            (vec![3, 4, 5, 6, 7], vec![6, 7]),
            (vec![6, 2, 7], vec![6, 7]),
        ];
        for (batch, new) in ok {
            let events: Vec<RawEvent> = batch.iter().map(|&s| out(s)).collect();
            let (got, _) = plan_append(&before, &events).unwrap();
            assert_eq!(seqs(&got), new, "{batch:?}");
        }
        for batch in [vec![7], vec![6, 8], vec![6, 6], vec![7, 6], vec![u64::MAX]] {
            let events: Vec<RawEvent> = batch.iter().map(|&s| out(s)).collect();
            match plan_append(&before, &events) {
                Err(StoreError::Gap { expected: 6 }) => {}
                other => panic!("{batch:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn terminal_runs_refuse_only_new_events() {
        let before = Progress {
            status: RunStatus::Finished,
            last_seq: 2,
            ..fresh_run()
        };
        let resend = [out(1), out(2)];
        let (new, after) = plan_append(&before, &resend).unwrap();
        assert!(new.is_empty());
        assert_eq!(after, before);
        for batch in [vec![out(3)], vec![out(2), out(3)], vec![out(9)]] {
            assert!(matches!(
                plan_append(&before, &batch),
                Err(StoreError::RunFinished)
            ));
        }
    }

    #[test]
    fn the_finished_marker_is_checked_against_the_stored_stream() {
        let lines = [out(1), out(2)];
        let sha =
            common::digest::stream_sha256(&lines.iter().map(RawEvent::parsed).collect::<Vec<_>>());
        let claim = |count: Value, sha: Value| {
            ev(
                3,
                EventKind::Marker,
                json!({"event": "finished", "exitCode": 0, "eventCount": count, "streamSha256": sha}),
            )
        };
        let cases = [
            (
                "match",
                claim(json!(2), json!(sha)),
                Some(Delivery::Complete),
            ),
            (
                "upper-case hex",
                claim(json!(2), json!(sha.to_uppercase())),
                Some(Delivery::Complete),
            ),
            (
                "count off",
                claim(json!(3), json!(sha)),
                Some(Delivery::Incomplete),
            ),
            (
                "hash off",
                claim(json!(2), json!("00")),
                Some(Delivery::Incomplete),
            ),
            ("no claim", fin(3, json!(0)), None),
        ];
        for (name, finish, want) in cases {
            // Split over two batches: the digest carries over in the progress.
            let (_, mid) = plan_append(&fresh_run(), &lines[..1]).unwrap();
            let (_, after) = plan_append(&mid, &[lines[1].clone(), finish]).unwrap();
            assert_eq!(after.delivery, want, "{name}");
            assert_eq!(after.stream.events(), 3, "{name}");
        }
    }
}
