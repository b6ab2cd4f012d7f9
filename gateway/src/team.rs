//! The team: who the people are, how the first admin comes to be, and what an admin may change
//! about the others (names, roles, invitations, disabling). Sign-in itself is `web_session`'s;
//! the routes are `routes/people.rs`.

use anyhow::Context;

use crate::error::ApiError;
use crate::secrets::random_token;
use crate::store::{Person, Role, Store};

/// The `meta` key naming the first admin's person id.
const FIRST_ADMIN_KEY: &str = "first_admin";
/// The first admin's name (what a gateway from before people existed signs in as).
pub const FIRST_ADMIN_NAME: &str = "admin";
/// How long an invitation link stays usable (ms).
pub const INVITATION_MS: i64 = 72 * 60 * 60 * 1000;

/// A fresh person id: `p_` and 72 random bits.
pub fn new_person_id() -> Result<String, ApiError> {
    random_token(9)
        .map(|t| format!("p_{t}"))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// A name people sign in with: 1 to 64 bytes of printable text, without surrounding spaces.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.trim() == name
        && !name.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_field",
            "a name is 1 to 64 characters, without control characters or surrounding spaces",
        ))
    }
}

/// A new password: at least 10 characters, at most 1,024 bytes.
pub fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < 10 || password.len() > 1024 {
        return Err(ApiError::bad_request(
            "weak_password",
            "a password has at least 10 characters",
        ));
    }
    Ok(())
}

/// The first admin's id, made on the first start (or the first start after an upgrade from a
/// gateway without people: the stored admin password becomes theirs). `password_hash` is the
/// admin password's; `changed` says it was set on this start, so the first admin gets it.
pub async fn first_admin(
    store: &dyn Store,
    password_hash: &str,
    changed: bool,
) -> anyhow::Result<String> {
    // Gateways starting together on one new database agree on the id first (the first stored
    // wins), then make that person; a create that finds it made already takes it.
    let id = match store.get_meta(FIRST_ADMIN_KEY.into()).await? {
        Some(id) => id,
        None => {
            let mine = new_person_id().map_err(|e| anyhow::anyhow!("{e:?}"))?;
            store
                .meta_or_insert(FIRST_ADMIN_KEY.into(), mine)
                .await
                .context("name the first admin")?
        }
    };
    let mut person = match store.person(id.clone()).await? {
        Some(p) => p,
        None => {
            let person = Person {
                id: id.clone(),
                name: FIRST_ADMIN_NAME.into(),
                role: Role::Admin,
                created_at: crate::clock::now_ms(),
                disabled_at: None,
                password_hash: Some(password_hash.to_string()),
            };
            match store.create_person(person.clone()).await {
                Ok(()) => {
                    tracing::info!(person = %person.id, "first admin created");
                    return Ok(person.id);
                }
                Err(crate::store::StoreError::Conflict) => store
                    .person(id.clone())
                    .await?
                    .context("create the first admin: the name admin is another person's")?,
                Err(e) => return Err(e).context("create the first admin"),
            }
        }
    };
    if changed || person.password_hash.is_none() {
        person.password_hash = Some(password_hash.to_string());
        store.update_person(person.clone()).await?;
    }
    Ok(person.id)
}

/// The first admin's person id, once there is one.
pub async fn first_admin_id(store: &dyn Store) -> anyhow::Result<Option<String>> {
    Ok(store.get_meta(FIRST_ADMIN_KEY.into()).await?)
}

/// Refuses a change that would leave the gateway without an enabled admin.
pub async fn keep_an_admin(store: &dyn Store, changed: &Person) -> Result<(), ApiError> {
    if changed.role == Role::Admin && changed.disabled_at.is_none() {
        return Ok(());
    }
    let others = store
        .people()
        .await?
        .into_iter()
        .filter(|p| p.id != changed.id && p.role == Role::Admin && p.disabled_at.is_none())
        .count();
    if others == 0 {
        return Err(ApiError::bad_request(
            "last_admin",
            "the gateway needs at least one enabled admin",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_passwords_are_checked() {
        for ok in ["alice", "Bob Smith", "é"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", " alice", "a\nb", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_password("0123456789").is_ok());
        assert!(check_password("short").is_err());
    }
}
