//! The store conformance suite (`conformance.rs`) and the macro that runs it on a backend.
#![allow(dead_code)] // each backend's test binary uses what it needs

pub mod agents;
pub mod conformance;

/// Every conformance case as a `#[tokio::test]`; `$db` makes a fresh
/// [`conformance::Database`] for one case. A new case is a `pub async fn` in `conformance.rs`
/// and one name here.
macro_rules! conformance_tests {
    ($db:expr) => {
        $crate::store::conformance_tests!(@cases $db;
            current:
                create_get_and_list_runs,
                unknown_runs,
                events_round_trip_and_update_the_run,
                resending_a_batch_is_idempotent,
                a_gap_answers_expected_and_writes_nothing,
                a_batch_with_events_after_finished_is_refused_whole,
                finished_marker_ends_the_run,
                a_terminal_run_takes_no_new_events,
                stop_requested_then_finished_is_stopped,
                delivery_is_judged_across_batches_and_reopens,
                claude_markers_are_recorded_on_the_run_and_deleting_a_run_removes_it,
                nonces_are_recorded_once_for_every_store,
                events_page_by_after_and_limit,
                events_before_pages_backwards_from_the_tail,
                pages_split_chunks_anywhere,
                a_batch_of_ten_thousand_commits,
                commands_are_pending_until_acked,
                artifacts_are_replaced_by_name,
                sessions_are_saved_touched_and_deleted,
                a_touch_after_sign_out_does_not_revive_the_session,
                meta_is_a_key_value_table,
                everything_survives_a_reopen,
                an_enrollment_token_enrolls_once,
                agents_are_seen_drained_revoked_and_go_offline,
                queued_runs_are_taken_in_order_by_matching_agents_within_capacity,
                an_offline_agent_marks_its_runs_and_a_returning_one_loses_what_it_lacks,
                api_tokens_are_found_by_hash_until_revoked_and_requests_are_kept;
            concurrent:
                concurrent_batches_commit_together_each_with_its_own_answer,
                readers_see_whole_batches_while_ingest_runs,
                two_stores_ingesting_one_run_store_each_event_once,
                two_stores_claiming_take_each_run_once
        );
    };
    (@cases $db:expr; current: $($case:ident),*; concurrent: $($many:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let db = $db;
                $crate::store::conformance::$case(&db).await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $many() {
                let db = $db;
                $crate::store::conformance::$many(&db).await;
            }
        )*
    };
}
pub(crate) use conformance_tests;
