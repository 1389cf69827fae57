//! What the API asks of users: log in, renew, log out, change a password, and manage users.
//! Each function opens its own transaction; `*_in_tx` variants run in the caller's.

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::error::unique_violation;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest, Role};
use ecole_db::Pool;
use uuid::Uuid;

use crate::model::{
    LoginInput, MeUpdate, NewUserInput, PasswordChangeInput, User, UserFilter, UserOut, UserUpdate,
};
use crate::password::{ensure_capacity, hash_password, verify_password_within};
use crate::repo::{self, NewUserRow, UserChanges};
use crate::throttle::{self, ThrottleConfig};
use crate::tokens::{AuthKeys, TokenPair, digest_refresh_token, new_refresh_token};
use crate::validation::{check_name, check_password, check_username, clean_email, clean_phone};

const INVALID_CREDENTIALS: &str = "Identifiants invalides.";
const INVALID_REFRESH: &str = "Jeton de rafraîchissement invalide ou expiré.";

/// Where a login comes from, for throttling and the session record.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: Option<String>,
}

fn authentication_failed(message: &str) -> DomainError {
    DomainError::AuthenticationFailed(message.to_string())
}

/// Opens a session for `user` and issues its first pair of tokens (login, tests).
pub async fn open_session(
    conn: &mut AsyncPgConnection,
    keys: &AuthKeys,
    user: &User,
    client: &ClientInfo,
) -> DomainResult<TokenPair> {
    let session = repo::create_session(
        conn,
        user.id,
        Some(&client.ip),
        client.user_agent.as_deref(),
    )
    .await?;
    issue_tokens(conn, keys, user, session).await
}

async fn issue_tokens(
    conn: &mut AsyncPgConnection,
    keys: &AuthKeys,
    user: &User,
    session_id: Uuid,
) -> DomainResult<TokenPair> {
    let (refresh, digest) = new_refresh_token();
    let ttl = chrono::Duration::from_std(keys.refresh_ttl).unwrap_or(chrono::Duration::days(7));
    repo::insert_refresh(conn, session_id, &digest, Utc::now() + ttl).await?;
    let access = keys.issue_access(user.id, user.role, session_id)?;
    Ok(TokenPair { access, refresh })
}

/// `auth/login/`: username or email, and password. Unknown user and wrong password answer
/// alike, and both pay for one argon2 verification.
///
/// Takes the pool, not a connection: none is held while the password is hashed (a queue of
/// hashes would otherwise pin the pool and turn every other request into a 503).
pub async fn login(
    pool: &Pool,
    keys: &AuthKeys,
    throttle_cfg: &ThrottleConfig,
    input: &LoginInput,
    client: &ClientInfo,
) -> DomainResult<(TokenPair, User)> {
    let mut errors = FieldErrors::new();
    if input.username.trim().is_empty() {
        errors.add("username", "Ce champ ne peut pas être vide.");
    }
    if input.password.is_empty() {
        errors.add("password", "Ce champ ne peut pas être vide.");
    }
    errors.into_result()?;
    ensure_capacity(throttle_cfg.hash_queue_max)?;
    let typed: String = input
        .username
        .trim()
        .to_lowercase()
        .chars()
        .take(254)
        .collect();

    let (user, key) = {
        let mut conn = pool.get().await?;
        let user = repo::find_by_login(&mut conn, &typed).await?;
        // An account's failures count under its username, whether its email or its username
        // was typed; an unknown identifier under what was typed.
        let key = user.as_ref().map_or(typed, |u| u.username.to_lowercase());
        throttle::check(&mut conn, throttle_cfg, &key, &client.ip).await?;
        (user, key)
    };
    let password_ok = verify_password_within(
        &input.password,
        user.as_ref().map(|u| u.password_hash.as_str()),
        throttle_cfg.hash_queue_max,
    )
    .await?;
    let user = match user {
        Some(u) if password_ok && u.is_active => u,
        _ => {
            fail_slowly(pool, throttle_cfg, &key, &client.ip).await?;
            tracing::info!(login.ip = %client.ip, "échec de connexion");
            return Err(authentication_failed(INVALID_CREDENTIALS));
        }
    };

    let client = client.clone();
    let mut conn = pool.get().await?;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        throttle::clear_pair(conn, &key, &client.ip).await?;
        let user = repo::update(
            conn,
            user.id,
            &UserChanges {
                last_login: Some(Some(Utc::now())),
                ..Default::default()
            },
        )
        .await?;
        let session = repo::create_session(
            conn,
            user.id,
            Some(&client.ip),
            client.user_agent.as_deref(),
        )
        .await?;
        let tokens = issue_tokens(conn, keys, &user, session).await?;
        Ok((tokens, user))
    })
    .await
}

/// Records a failed password check, then waits out the identifier's delay with no
/// connection held.
async fn fail_slowly(
    pool: &Pool,
    throttle_cfg: &ThrottleConfig,
    key: &str,
    ip: &str,
) -> DomainResult<()> {
    let delay = {
        let mut conn = pool.get().await?;
        throttle::record_failure(&mut conn, throttle_cfg, key, ip).await?
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Ok(())
}

/// `auth/refresh/`: rotates the refresh token. Presenting a token that was already used
/// revokes its whole family (it was stolen, or replayed).
pub async fn refresh(
    conn: &mut AsyncPgConnection,
    keys: &AuthKeys,
    token: &str,
) -> DomainResult<TokenPair> {
    let digest = digest_refresh_token(token.trim());
    let outcome = conn
        .transaction::<_, DomainError, _>(async move |conn| {
            let Some(session_id) = repo::consume_refresh(conn, &digest).await? else {
                return Ok(Err(repo::find_refresh(conn, &digest).await?));
            };
            let Some(user_id) = repo::active_session_user(conn, session_id).await? else {
                return Ok(Err(None));
            };
            let user = match repo::get(conn, user_id).await? {
                Some(u) if u.is_active => u,
                _ => return Ok(Err(None)),
            };
            repo::touch_session(conn, session_id).await?;
            Ok(Ok(issue_tokens(conn, keys, &user, session_id).await?))
        })
        .await?;
    match outcome {
        Ok(pair) => Ok(pair),
        Err(Some((session_id, true))) => {
            repo::revoke_session(
                conn,
                session_id,
                "réutilisation d'un jeton de rafraîchissement",
            )
            .await?;
            tracing::warn!(session.id = %session_id, "jeton de rafraîchissement réutilisé : session révoquée");
            Err(authentication_failed(INVALID_REFRESH))
        }
        Err(_) => Err(authentication_failed(INVALID_REFRESH)),
    }
}

/// `auth/logout/`: ends the session the refresh token belongs to.
pub async fn logout(conn: &mut AsyncPgConnection, token: &str) -> DomainResult<()> {
    let digest = digest_refresh_token(token.trim());
    match repo::find_refresh(conn, &digest).await? {
        Some((session_id, _)) => repo::revoke_session(conn, session_id, "déconnexion").await,
        None => Err(authentication_failed(INVALID_REFRESH)),
    }
}

/// The actor behind verified access-token claims, if the user and session are still valid.
pub async fn authenticate_claims(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    session_id: Uuid,
) -> DomainResult<Option<(Actor, User)>> {
    Ok(repo::authenticate_session(conn, user_id, session_id)
        .await?
        .map(|user| {
            (
                Actor {
                    user_id: user.id,
                    role: user.role,
                    session_id,
                },
                user,
            )
        }))
}

/// `auth/password/`: checks the current password, sets the new one, ends the other sessions.
/// Wrong current passwords count as failed logins of the account from this address (same
/// limits, same 429), and no connection is held while hashing.
pub async fn change_password(
    pool: &Pool,
    throttle_cfg: &ThrottleConfig,
    actor: &Actor,
    input: &PasswordChangeInput,
    client: &ClientInfo,
) -> DomainResult<()> {
    ensure_capacity(throttle_cfg.hash_queue_max)?;
    let (user, key) = {
        let mut conn = pool.get().await?;
        let user = repo::get(&mut conn, actor.user_id)
            .await?
            .ok_or(DomainError::NotFound)?;
        let key = user.username.to_lowercase();
        throttle::check(&mut conn, throttle_cfg, &key, &client.ip).await?;
        (user, key)
    };
    if !verify_password_within(
        &input.old_password,
        Some(&user.password_hash),
        throttle_cfg.hash_queue_max,
    )
    .await?
    {
        fail_slowly(pool, throttle_cfg, &key, &client.ip).await?;
        return Err(DomainError::validation(
            "old_password",
            "Le mot de passe actuel est incorrect.",
        ));
    }
    let mut errors = FieldErrors::new();
    check_password(
        "new_password",
        &input.new_password,
        &user.username,
        &mut errors,
    );
    if input.new_password == input.old_password {
        errors.add(
            "new_password",
            "Le nouveau mot de passe doit être différent de l'actuel.",
        );
    }
    errors.into_result()?;
    let hash = hash_password(&input.new_password).await?;
    let actor = *actor;
    let ip = client.ip.clone();
    let mut conn = pool.get().await?;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        throttle::clear_pair(conn, &key, &ip).await?;
        repo::update(
            conn,
            actor.user_id,
            &UserChanges {
                password_hash: Some(hash),
                ..Default::default()
            },
        )
        .await?;
        repo::revoke_user_sessions(
            conn,
            actor.user_id,
            Some(actor.session_id),
            "changement de mot de passe",
        )
        .await?;
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: AuditAction::PasswordChange,
                table: "users",
                row_id: Some(actor.user_id),
                before: None,
                after: None,
            },
        )
        .await
    })
    .await
}

fn user_json(user: &User) -> serde_json::Value {
    serde_json::to_value(UserOut::from(user)).unwrap_or(serde_json::Value::Null)
}

/// Maps the users table's unique violations to field errors.
fn map_unique(e: diesel::result::Error) -> DomainError {
    match unique_violation(&e) {
        Some("users_username_lower_key") => DomainError::validation(
            "username",
            "Un utilisateur avec ce nom d'utilisateur existe déjà.",
        ),
        Some("users_email_lower_key") => DomainError::validation(
            "email",
            "Un utilisateur avec cette adresse e-mail existe déjà.",
        ),
        _ => e.into(),
    }
}

/// A validated new user whose password is already hashed (hash outside transactions).
pub struct PreparedUser {
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub telephone: Option<String>,
    pub is_active: bool,
}

impl PreparedUser {
    /// The row that inserts this user.
    fn row(&self) -> NewUserRow<'_> {
        NewUserRow {
            username: &self.username,
            email: self.email.as_deref(),
            password_hash: &self.password_hash,
            first_name: &self.first_name,
            last_name: &self.last_name,
            role: self.role,
            telephone: self.telephone.as_deref(),
            is_active: self.is_active,
        }
    }
}

/// Checks a new user's fields and hashes the password. `errors` collects the messages so
/// that a caller creating a profile can add its own before failing.
pub async fn prepare_user(
    input: &NewUserInput,
    errors: &mut FieldErrors,
) -> DomainResult<Option<PreparedUser>> {
    check_username(&input.username, errors);
    let email = clean_email(input.email.as_deref(), errors);
    let telephone = clean_phone(input.telephone.as_deref(), errors);
    check_name("first_name", &input.first_name, errors);
    check_name("last_name", &input.last_name, errors);
    check_password("password", &input.password, &input.username, errors);
    if !errors.is_empty() {
        return Ok(None);
    }
    Ok(Some(PreparedUser {
        username: input.username.trim().to_string(),
        email,
        password_hash: hash_password(&input.password).await?,
        first_name: input.first_name.trim().to_string(),
        last_name: input.last_name.trim().to_string(),
        role: input.role,
        telephone,
        is_active: input.is_active.unwrap_or(true),
    }))
}

/// Inserts a prepared user and its audit row, in the caller's transaction.
pub async fn insert_user_in_tx(
    conn: &mut AsyncPgConnection,
    actor: Option<&Actor>,
    user: &PreparedUser,
) -> DomainResult<User> {
    let created = repo::insert(conn, user.row()).await.map_err(map_unique)?;
    audit::record(
        conn,
        AuditEntry {
            actor,
            action: AuditAction::Create,
            table: "users",
            row_id: Some(created.id),
            before: None,
            after: Some(user_json(&created)),
        },
    )
    .await?;
    Ok(created)
}

/// Inserts many prepared users and audits each, set-based (imports). The result is in the
/// order of `users`.
pub async fn insert_users_in_tx(
    conn: &mut AsyncPgConnection,
    actor: Option<&Actor>,
    users: &[PreparedUser],
) -> DomainResult<Vec<User>> {
    let rows: Vec<NewUserRow<'_>> = users.iter().map(PreparedUser::row).collect();
    let created = repo::insert_many(conn, &rows).await.map_err(map_unique)?;
    // RETURNING follows the VALUES order; matched by name all the same.
    let mut by_name: std::collections::HashMap<String, User> = created
        .into_iter()
        .map(|u| (u.username.to_lowercase(), u))
        .collect();
    let ordered: Vec<User> = users
        .iter()
        .filter_map(|u| by_name.remove(&u.username.to_lowercase()))
        .collect();
    if ordered.len() != users.len() {
        return Err(DomainError::internal(
            "insertion groupée d'utilisateurs incomplète",
        ));
    }
    audit::record_many(
        conn,
        ordered
            .iter()
            .map(|created| AuditEntry {
                actor,
                action: AuditAction::Create,
                table: "users",
                row_id: Some(created.id),
                before: None,
                after: Some(user_json(created)),
            })
            .collect(),
    )
    .await?;
    Ok(ordered)
}

/// Creates a user (CLI, tests, `POST users/`). `actor` is `None` for the CLI.
pub async fn create_user(
    conn: &mut AsyncPgConnection,
    actor: Option<&Actor>,
    input: &NewUserInput,
) -> DomainResult<User> {
    if let Some(actor) = actor {
        actor.require(&[Role::Admin])?;
    }
    let mut errors = FieldErrors::new();
    let prepared = prepare_user(input, &mut errors).await?;
    let Some(prepared) = prepared else {
        return Err(DomainError::Validation(errors));
    };
    let actor = actor.copied();
    conn.transaction::<_, DomainError, _>(async move |conn| {
        insert_user_in_tx(conn, actor.as_ref(), &prepared).await
    })
    .await
}

/// Roles that may read the users list.
const USER_READERS: &[Role] = &[Role::Admin, Role::Direction, Role::Bibliothecaire];

pub async fn list_users(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &UserFilter,
    page: PageRequest,
) -> DomainResult<Page<User>> {
    actor.require(USER_READERS)?;
    repo::list(conn, filter, page).await
}

pub async fn get_user(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<User> {
    actor.require(USER_READERS)?;
    repo::get(conn, id).await?.ok_or(DomainError::NotFound)
}

/// `PUT`/`PATCH users/<id>/` (ADMIN). `partial = false` requires every writable field.
pub async fn update_user(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    input: &UserUpdate,
    partial: bool,
) -> DomainResult<User> {
    actor.require(USER_READERS)?;
    let existing = repo::get(conn, id).await?.ok_or(DomainError::NotFound)?;
    actor.require(&[Role::Admin])?;

    let mut errors = FieldErrors::new();
    if !partial {
        for (field, missing) in [
            ("username", input.username.is_none()),
            ("first_name", input.first_name.is_none()),
            ("last_name", input.last_name.is_none()),
            ("role", input.role.is_none()),
        ] {
            if missing {
                errors.add(field, "Ce champ est obligatoire.");
            }
        }
    }
    let mut changes = UserChanges::default();
    if let Some(username) = &input.username {
        check_username(username, &mut errors);
        changes.username = Some(username.trim().to_string());
    }
    if let Some(email) = &input.email {
        changes.email = Some(clean_email(email.as_deref(), &mut errors));
    }
    if let Some(phone) = &input.telephone {
        changes.telephone = Some(clean_phone(phone.as_deref(), &mut errors));
    }
    if let Some(first) = &input.first_name {
        check_name("first_name", first, &mut errors);
        changes.first_name = Some(first.trim().to_string());
    }
    if let Some(last) = &input.last_name {
        check_name("last_name", last, &mut errors);
        changes.last_name = Some(last.trim().to_string());
    }
    if let Some(role) = input.role {
        if id == actor.user_id && role != existing.role {
            errors.add("role", "Vous ne pouvez pas modifier votre propre rôle.");
        }
        changes.role = Some(role);
    }
    if let Some(active) = input.is_active {
        if id == actor.user_id && !active {
            errors.add(
                "is_active",
                "Vous ne pouvez pas désactiver votre propre compte.",
            );
        }
        changes.is_active = Some(active);
    }
    if let Some(password) = &input.password {
        let username = input.username.as_deref().unwrap_or(&existing.username);
        check_password("password", password, username, &mut errors);
    }
    errors.into_result()?;
    if let Some(password) = &input.password {
        changes.password_hash = Some(hash_password(password).await?);
    }

    let actor = *actor;
    let role_changed = changes.role.is_some_and(|r| r != existing.role);
    let ends_sessions = changes.password_hash.is_some() || changes.is_active == Some(false);
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let before = repo::get_for_update(conn, id)
            .await?
            .ok_or(DomainError::NotFound)?;
        let after = repo::update(conn, id, &changes).await.map_err(map_unique)?;
        if ends_sessions || role_changed {
            repo::revoke_user_sessions(
                conn,
                id,
                None,
                "modification du compte par un administrateur",
            )
            .await?;
        }
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: if role_changed {
                    AuditAction::RoleChange
                } else {
                    AuditAction::Update
                },
                table: "users",
                row_id: Some(id),
                before: Some(user_json(&before)),
                after: Some(user_json(&after)),
            },
        )
        .await?;
        Ok(after)
    })
    .await
}

/// `DELETE users/<id>/`: deactivates (a user is never deleted: grades and payments name them).
pub async fn deactivate_user(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<()> {
    actor.require(USER_READERS)?;
    repo::get(conn, id).await?.ok_or(DomainError::NotFound)?;
    actor.require(&[Role::Admin])?;
    if id == actor.user_id {
        return Err(DomainError::validation(
            "non_field_errors",
            "Vous ne pouvez pas désactiver votre propre compte.",
        ));
    }
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let before = repo::get_for_update(conn, id)
            .await?
            .ok_or(DomainError::NotFound)?;
        let after = repo::update(
            conn,
            id,
            &UserChanges {
                is_active: Some(false),
                ..Default::default()
            },
        )
        .await?;
        repo::revoke_user_sessions(conn, id, None, "compte désactivé").await?;
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Deactivate,
                table: "users",
                row_id: Some(id),
                before: Some(user_json(&before)),
                after: Some(user_json(&after)),
            },
        )
        .await
    })
    .await
}

/// `PATCH users/me/`: only the email. The phone number changes through
/// [`crate::telephone`] (a code sent to the new number); sending the current one is accepted.
pub async fn update_me(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &MeUpdate,
) -> DomainResult<User> {
    let mut errors = FieldErrors::new();
    let mut changes = UserChanges::default();
    if let Some(email) = &input.email {
        changes.email = Some(clean_email(email.as_deref(), &mut errors));
    }
    let phone = input
        .telephone
        .as_ref()
        .map(|phone| clean_phone(phone.as_deref(), &mut errors));
    errors.into_result()?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let before = repo::get_for_update(conn, actor.user_id)
            .await?
            .ok_or(DomainError::NotFound)?;
        if let Some(phone) = phone
            && phone != before.telephone
        {
            return Err(DomainError::validation(
                "telephone",
                "Le numéro de téléphone se change par POST users/me/telephone/, avec le code envoyé par SMS au nouveau numéro.",
            ));
        }
        if changes.email.is_none() {
            return Ok(before);
        }
        let after = repo::update(conn, actor.user_id, &changes)
            .await
            .map_err(map_unique)?;
        audit_user_update(conn, &actor, &before, &after).await?;
        Ok(after)
    })
    .await
}

/// The audit row of a change to a user's fields (`UPDATE`, before and after, never a hash).
pub(crate) async fn audit_user_update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    before: &User,
    after: &User,
) -> DomainResult<()> {
    audit::record(
        conn,
        AuditEntry {
            actor: Some(actor),
            action: AuditAction::Update,
            table: "users",
            row_id: Some(after.id),
            before: Some(user_json(before)),
            after: Some(user_json(after)),
        },
    )
    .await
}

/// Changes the names, email and phone of a profile's user (pupil, parent, teacher), in the
/// caller's transaction, with its audit row.
pub async fn update_profile_user_in_tx(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    user_id: i64,
    input: &UserUpdate,
) -> DomainResult<User> {
    let mut errors = FieldErrors::new();
    let mut changes = UserChanges::default();
    if let Some(first) = &input.first_name {
        check_name("first_name", first, &mut errors);
        changes.first_name = Some(first.trim().to_string());
    }
    if let Some(last) = &input.last_name {
        check_name("last_name", last, &mut errors);
        changes.last_name = Some(last.trim().to_string());
    }
    if let Some(email) = &input.email {
        changes.email = Some(clean_email(email.as_deref(), &mut errors));
    }
    if let Some(phone) = &input.telephone {
        changes.telephone = Some(clean_phone(phone.as_deref(), &mut errors));
    }
    errors.into_result()?;
    let before = repo::get_for_update(conn, user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if changes.first_name.is_none()
        && changes.last_name.is_none()
        && changes.email.is_none()
        && changes.telephone.is_none()
    {
        return Ok(before);
    }
    let after = repo::update(conn, user_id, &changes)
        .await
        .map_err(map_unique)?;
    audit_user_update(conn, actor, &before, &after).await?;
    Ok(after)
}

/// Deletes the user of a profile that is being deleted (pupil, parent, teacher), in the
/// caller's transaction, with its audit row. Sessions go with it (cascade).
pub async fn delete_profile_user_in_tx(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    user_id: i64,
) -> DomainResult<()> {
    let before = repo::get_for_update(conn, user_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    repo::delete(conn, user_id).await?;
    audit::record(
        conn,
        AuditEntry {
            actor: Some(actor),
            action: AuditAction::Delete,
            table: "users",
            row_id: Some(user_id),
            before: Some(user_json(&before)),
            after: None,
        },
    )
    .await
}
