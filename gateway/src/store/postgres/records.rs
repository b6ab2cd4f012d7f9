//! What the gateway keeps besides runs: sign-in sessions, people and invitations, passkeys,
//! phone pairings, the audit log, and the pruning of expired nonces.

use tokio_postgres::Row;

use super::Conn;
use super::codec::{backend, bad, col, col_bytes, col_u64, conflict_or, limit, rows};
use crate::store::{
    AuditEntry, Invitation, Person, Role, StoreError, StoredPasskey, StoredSession,
};

/// Serialises appends to the audit log (an advisory lock held to the commit), so ids ascend
/// in the order lines become visible: a reader paging forwards never skips a line that commits
/// late with a smaller id.
const AUDIT_LOCK: i64 = 0x6761_7465_7761_7902;

pub(super) async fn save_session(conn: Conn, s: StoredSession) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sessions (id_hash, created_at, last_seen, person_id, device)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id_hash) DO UPDATE SET last_seen = excluded.last_seen,
             person_id = excluded.person_id, device = excluded.device",
        &[
            &&s.id_hash[..],
            &s.created_at,
            &s.last_seen,
            &s.person_id,
            &s.device,
        ],
    )
    .await
    .map_err(|e| backend("save session", e))?;
    Ok(())
}

pub(super) async fn touch_session(
    conn: Conn,
    id_hash: [u8; 32],
    last_seen: i64,
) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE sessions SET last_seen = $2 WHERE id_hash = $1",
        &[&&id_hash[..], &last_seen],
    )
    .await
    .map(|n| n > 0)
    .map_err(|e| backend("touch session", e))
}

fn session_row(row: &Row) -> Result<StoredSession, StoreError> {
    Ok(StoredSession {
        id_hash: col_bytes(row, 0)?,
        created_at: col(row, 1)?,
        last_seen: col(row, 2)?,
        person_id: col(row, 3)?,
        device: col(row, 4)?,
    })
}

pub(super) async fn sessions(conn: Conn) -> Result<Vec<StoredSession>, StoreError> {
    let found = conn
        .query(
            "SELECT id_hash, created_at, last_seen, person_id, device FROM sessions",
            &[],
        )
        .await
        .map_err(|e| backend("read sessions", e))?;
    rows(found, session_row)
}

pub(super) async fn session(
    conn: Conn,
    id_hash: [u8; 32],
) -> Result<Option<StoredSession>, StoreError> {
    conn.query_opt(
        "SELECT id_hash, created_at, last_seen, person_id, device FROM sessions
         WHERE id_hash = $1",
        &[&&id_hash[..]],
    )
    .await
    .map_err(|e| backend("read session", e))?
    .as_ref()
    .map(session_row)
    .transpose()
}

pub(super) async fn count(
    conn: Conn,
    key: String,
    window: i64,
    delta: i64,
) -> Result<i64, StoreError> {
    // One statement: a concurrent count of the same key waits on the row and adds to its result.
    let row = conn
        .query_one(
            "INSERT INTO counters (key, window_start, count) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET
                 count = CASE WHEN counters.window_start = excluded.window_start
                     THEN counters.count + excluded.count ELSE excluded.count END,
                 window_start = excluded.window_start
             RETURNING count",
            &[&key, &window, &delta],
        )
        .await
        .map_err(|e| backend("count", e))?;
    col(&row, 0)
}

pub(super) async fn delete_session(conn: Conn, id_hash: [u8; 32]) -> Result<bool, StoreError> {
    conn.execute("DELETE FROM sessions WHERE id_hash = $1", &[&&id_hash[..]])
        .await
        .map(|n| n > 0)
        .map_err(|e| backend("delete session", e))
}

pub(super) async fn delete_sessions_of(conn: Conn, person_id: String) -> Result<u64, StoreError> {
    conn.execute("DELETE FROM sessions WHERE person_id = $1", &[&person_id])
        .await
        .map_err(|e| backend("delete sessions of a person", e))
}

fn role(row: &Row, index: usize) -> Result<Role, StoreError> {
    let text: &str = col(row, index)?;
    Role::parse(text).ok_or_else(|| bad(format!("unknown role {text:?}")))
}

const PERSON_COLUMNS: &str = "id, name, role, created_at, disabled_at, password_hash";

fn person_row(row: &Row) -> Result<Person, StoreError> {
    Ok(Person {
        id: col(row, 0)?,
        name: col(row, 1)?,
        role: role(row, 2)?,
        created_at: col(row, 3)?,
        disabled_at: col(row, 4)?,
        password_hash: col(row, 5)?,
    })
}

pub(super) async fn create_person(conn: Conn, p: Person) -> Result<(), StoreError> {
    conn.execute(
        &format!("INSERT INTO people ({PERSON_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        &[
            &p.id,
            &p.name,
            &p.role.as_str(),
            &p.created_at,
            &p.disabled_at,
            &p.password_hash,
        ],
    )
    .await
    .map_err(|e| conflict_or("create person", e))?;
    Ok(())
}

pub(super) async fn update_person(conn: Conn, p: Person) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE people SET name = $2, role = $3, disabled_at = $4, password_hash = $5
         WHERE id = $1",
        &[
            &p.id,
            &p.name,
            &p.role.as_str(),
            &p.disabled_at,
            &p.password_hash,
        ],
    )
    .await
    .map(|n| n > 0)
    .map_err(|e| conflict_or("update person", e))
}

pub(super) async fn person(conn: Conn, id: String) -> Result<Option<Person>, StoreError> {
    conn.query_opt(
        &format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = $1"),
        &[&id],
    )
    .await
    .map_err(|e| backend("read person", e))?
    .as_ref()
    .map(person_row)
    .transpose()
}

pub(super) async fn person_by_name(conn: Conn, name: String) -> Result<Option<Person>, StoreError> {
    conn.query_opt(
        &format!("SELECT {PERSON_COLUMNS} FROM people WHERE name = $1"),
        &[&name],
    )
    .await
    .map_err(|e| backend("read person by name", e))?
    .as_ref()
    .map(person_row)
    .transpose()
}

pub(super) async fn people(conn: Conn) -> Result<Vec<Person>, StoreError> {
    let found = conn
        .query(
            &format!("SELECT {PERSON_COLUMNS} FROM people ORDER BY created_at, pos"),
            &[],
        )
        .await
        .map_err(|e| backend("read people", e))?;
    rows(found, person_row)
}

const INVITATION_COLUMNS: &str = "token_hash, name, role, created_by, created_at, expires_at";

fn invitation_row(row: &Row) -> Result<Invitation, StoreError> {
    Ok(Invitation {
        token_hash: col_bytes(row, 0)?,
        name: col(row, 1)?,
        role: role(row, 2)?,
        created_by: col(row, 3)?,
        created_at: col(row, 4)?,
        expires_at: col(row, 5)?,
    })
}

pub(super) async fn create_invitation(conn: Conn, i: Invitation) -> Result<(), StoreError> {
    conn.execute(
        &format!("INSERT INTO invitations ({INVITATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        &[
            &&i.token_hash[..],
            &i.name,
            &i.role.as_str(),
            &i.created_by,
            &i.created_at,
            &i.expires_at,
        ],
    )
    .await
    .map_err(|e| conflict_or("create invitation", e))?;
    Ok(())
}

pub(super) async fn invitation(
    conn: Conn,
    token_hash: [u8; 32],
    now: i64,
) -> Result<Option<Invitation>, StoreError> {
    conn.query_opt(
        &format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
        ),
        &[&&token_hash[..], &now],
    )
    .await
    .map_err(|e| backend("read invitation", e))?
    .as_ref()
    .map(invitation_row)
    .transpose()
}

pub(super) async fn take_invitation(
    conn: Conn,
    token_hash: [u8; 32],
    now: i64,
) -> Result<Option<Invitation>, StoreError> {
    // One statement: the row lock of the UPDATE makes a second taker re-check `used_at`.
    conn.query_opt(
        &format!(
            "UPDATE invitations SET used_at = $2
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
             RETURNING {INVITATION_COLUMNS}"
        ),
        &[&&token_hash[..], &now],
    )
    .await
    .map_err(|e| backend("use invitation", e))?
    .as_ref()
    .map(invitation_row)
    .transpose()
}

pub(super) async fn open_invitations(conn: Conn, now: i64) -> Result<Vec<Invitation>, StoreError> {
    let found = conn
        .query(
            &format!(
                "SELECT {INVITATION_COLUMNS} FROM invitations
                 WHERE used_at IS NULL AND expires_at > $1 ORDER BY created_at"
            ),
            &[&now],
        )
        .await
        .map_err(|e| backend("read invitations", e))?;
    rows(found, invitation_row)
}

const PASSKEY_COLUMNS: &str =
    "credential_id, person_id, static_state, dynamic_state, created_at, last_used_at";

fn passkey_row(row: &Row) -> Result<StoredPasskey, StoreError> {
    Ok(StoredPasskey {
        credential_id: col(row, 0)?,
        person_id: col(row, 1)?,
        static_state: col(row, 2)?,
        dynamic_state: col_bytes(row, 3)?,
        created_at: col(row, 4)?,
        last_used_at: col(row, 5)?,
    })
}

pub(super) async fn add_passkey(conn: Conn, p: StoredPasskey) -> Result<(), StoreError> {
    conn.execute(
        &format!("INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        &[
            &p.credential_id,
            &p.person_id,
            &p.static_state,
            &&p.dynamic_state[..],
            &p.created_at,
            &p.last_used_at,
        ],
    )
    .await
    .map_err(|e| conflict_or("add passkey", e))?;
    Ok(())
}

pub(super) async fn passkey(
    conn: Conn,
    credential_id: Vec<u8>,
) -> Result<Option<StoredPasskey>, StoreError> {
    conn.query_opt(
        &format!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = $1"),
        &[&credential_id],
    )
    .await
    .map_err(|e| backend("read passkey", e))?
    .as_ref()
    .map(passkey_row)
    .transpose()
}

pub(super) async fn passkeys_of(
    conn: Conn,
    person_id: String,
) -> Result<Vec<StoredPasskey>, StoreError> {
    let found = conn
        .query(
            &format!(
                "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE person_id = $1
                 ORDER BY created_at, pos"
            ),
            &[&person_id],
        )
        .await
        .map_err(|e| backend("read passkeys", e))?;
    rows(found, passkey_row)
}

pub(super) async fn use_passkey(
    conn: Conn,
    credential_id: Vec<u8>,
    dynamic_state: [u8; 7],
    at: i64,
) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE passkeys SET dynamic_state = $2, last_used_at = $3 WHERE credential_id = $1",
        &[&credential_id, &&dynamic_state[..], &at],
    )
    .await
    .map(|n| n > 0)
    .map_err(|e| backend("record passkey use", e))
}

pub(super) async fn create_pairing(
    conn: Conn,
    code_hash: [u8; 32],
    person_id: String,
    expires_at: i64,
) -> Result<(), StoreError> {
    // Pairings past their time are of no use: they go when a new one is made.
    conn.execute(
        "DELETE FROM pairings WHERE expires_at < $1",
        &[&crate::clock::now_ms()],
    )
    .await
    .map_err(|e| backend("forget old pairings", e))?;
    conn.execute(
        "INSERT INTO pairings (code_hash, person_id, expires_at) VALUES ($1, $2, $3)",
        &[&&code_hash[..], &person_id, &expires_at],
    )
    .await
    .map_err(|e| conflict_or("create pairing", e))?;
    Ok(())
}

pub(super) async fn take_pairing(
    conn: Conn,
    code_hash: [u8; 32],
    now: i64,
) -> Result<Option<String>, StoreError> {
    conn.query_opt(
        "UPDATE pairings SET used_at = $2
         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
         RETURNING person_id",
        &[&&code_hash[..], &now],
    )
    .await
    .map_err(|e| backend("use pairing", e))?
    .map(|row| col(&row, 0))
    .transpose()
}

pub(super) async fn create_ceremony(
    conn: Conn,
    challenge: [u8; 16],
    kind: &'static str,
    state: Vec<u8>,
    expires_at: i64,
    limit: u64,
) -> Result<bool, StoreError> {
    conn.execute(
        "DELETE FROM passkey_ceremonies WHERE expires_at <= $1",
        &[&crate::clock::now_ms()],
    )
    .await
    .map_err(|e| backend("forget expired passkey ceremonies", e))?;
    conn.execute(
        "INSERT INTO passkey_ceremonies (challenge, kind, state, expires_at)
         SELECT $1, $2, $3, $4 WHERE (SELECT count(*) FROM passkey_ceremonies) < $5",
        &[
            &&challenge[..],
            &kind,
            &state,
            &expires_at,
            &i64::try_from(limit).unwrap_or(i64::MAX),
        ],
    )
    .await
    .map(|n| n > 0)
    .map_err(|e| conflict_or("store passkey ceremony", e))
}

pub(super) async fn take_ceremony(
    conn: Conn,
    challenge: [u8; 16],
    kind: &'static str,
    now: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(row) = conn
        .query_opt(
            "DELETE FROM passkey_ceremonies WHERE challenge = $1 AND kind = $2
             RETURNING state, expires_at",
            &[&&challenge[..], &kind],
        )
        .await
        .map_err(|e| backend("take passkey ceremony", e))?
    else {
        return Ok(None);
    };
    let state: Vec<u8> = col(&row, 0)?;
    let expires_at: i64 = col(&row, 1)?;
    Ok((expires_at > now).then_some(state))
}

const AUDIT_COLUMNS: &str = "id, at, actor_id, actor_name, action, run_id, target, detail, source";

fn audit_row(row: &Row) -> Result<AuditEntry, StoreError> {
    let detail: &str = col(row, 7)?;
    Ok(AuditEntry {
        id: col_u64(row, 0)?,
        at: col(row, 1)?,
        actor_id: col(row, 2)?,
        actor_name: col(row, 3)?,
        action: col(row, 4)?,
        run_id: col(row, 5)?,
        target: col(row, 6)?,
        detail: serde_json::from_str(detail)
            .map_err(|e| bad(format!("audit detail is not JSON: {e}")))?,
        source: col(row, 8)?,
    })
}

pub(super) async fn append_audit(mut conn: Conn, e: AuditEntry) -> Result<u64, StoreError> {
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin audit", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
        .await
        .map_err(|e| backend("take the audit lock", e))?;
    let row = tx
        .query_one(
            "INSERT INTO audit (at, actor_id, actor_name, action, run_id, target, detail, source)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                &e.at,
                &e.actor_id,
                &e.actor_name,
                &e.action,
                &e.run_id,
                &e.target,
                &e.detail.to_string(),
                &e.source,
            ],
        )
        .await
        .map_err(|e| backend("append to the audit log", e))?;
    let id = col_u64(&row, 0)?;
    tx.commit().await.map_err(|e| backend("commit audit", e))?;
    Ok(id)
}

pub(super) async fn audit(
    conn: Conn,
    before: Option<u64>,
    n: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let before = before.map_or(i64::MAX, super::codec::big);
    let found = conn
        .query(
            &format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE id < $1 ORDER BY id DESC LIMIT $2"),
            &[&before, &limit(n)],
        )
        .await
        .map_err(|e| backend("read the audit log", e))?;
    rows(found, audit_row)
}

pub(super) async fn audit_after(
    conn: Conn,
    after: u64,
    n: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let found = conn
        .query(
            &format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE id > $1 ORDER BY id LIMIT $2"),
            &[&super::codec::big(after), &limit(n)],
        )
        .await
        .map_err(|e| backend("read the audit log forwards", e))?;
    rows(found, audit_row)
}

pub(super) async fn run_audit(conn: Conn, run_id: String) -> Result<Vec<AuditEntry>, StoreError> {
    let found = conn
        .query(
            &format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE run_id = $1 ORDER BY id"),
            &[&run_id],
        )
        .await
        .map_err(|e| backend(format!("read the audit log of {run_id}"), e))?;
    rows(found, audit_row)
}

pub(super) async fn prune_nonces(conn: Conn, before: i64) -> Result<u64, StoreError> {
    conn.execute("DELETE FROM nonces WHERE expires_at < $1", &[&before])
        .await
        .map_err(|e| backend("prune nonces", e))
}
