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
                artifact_objects_are_queued_for_deletion_when_no_artifact_needs_them,
                sessions_are_saved_touched_and_deleted,
                counters_count_within_their_window,
                a_touch_after_sign_out_does_not_revive_the_session,
                a_persons_sessions_end_together,
                people_have_unique_names_and_change,
                invitations_are_taken_once_until_they_expire,
                the_audit_log_grows_and_reads_both_ways,
                passkeys_are_kept_by_credential_and_count_their_uses,
                a_pairing_code_signs_in_once_until_it_expires,
                a_passkey_ceremony_is_taken_once_by_any_opener_until_it_expires,
                meta_is_a_key_value_table,
                meta_or_insert_keeps_the_first_value_for_every_opener,
                everything_survives_a_reopen,
                an_enrollment_token_enrolls_once,
                agents_are_seen_drained_revoked_and_go_offline,
                queued_runs_are_taken_in_order_by_matching_agents_within_capacity,
                an_offline_agent_marks_its_runs_and_a_returning_one_loses_what_it_lacks,
                api_tokens_are_found_by_hash_until_revoked_and_requests_are_kept,
                retention_chooses_ended_unpinned_runs_past_their_cutoff,
                purging_hides_a_run_then_deletes_it_in_small_steps,
                a_pinned_run_is_kept_and_an_unpinned_one_purged,
                a_run_being_purged_is_not_found_by_search,
                search_finds_a_runs_lines_page_by_page,
                search_reads_claude_lines_and_markers_in_words,
                search_across_runs_by_name_prompt_and_output,
                webhooks_are_created_listed_and_deleted,
                push_subscriptions_are_replaced_by_endpoint,
                deliveries_are_claimed_once_retried_and_logged,
                action_tokens_are_taken_once;
            concurrent:
                concurrent_batches_commit_together_each_with_its_own_answer,
                readers_see_whole_batches_while_ingest_runs,
                two_stores_ingesting_one_run_store_each_event_once,
                two_stores_claiming_take_each_run_once,
                two_stores_counting_one_key_lose_no_count,
                an_invitation_is_taken_by_one_of_many
        );
    };
    (@cases $db:expr; current: $($case:ident),*; concurrent: $($many:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let db = $db;
                if $crate::store::conformance::skipped(&db, stringify!($case)) {
                    return;
                }
                $crate::store::conformance::$case(&db).await;
            }
        )*
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $many() {
                let db = $db;
                if $crate::store::conformance::skipped(&db, stringify!($many)) {
                    return;
                }
                $crate::store::conformance::$many(&db).await;
            }
        )*
    };
}
pub(crate) use conformance_tests;
