//! SQL of users, sessions and refresh tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::{DomainResult, Page, PageRequest};
use ecole_db::schema::{auth_sessions, refresh_tokens, users};
use ecole_db::{lower, lower_nullable};
use uuid::Uuid;

use crate::model::{User, UserFilter, UserOrdering};

pub async fn get(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<Option<User>> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Finds a user by username, else by email (both case-insensitive, on their indexes).
pub async fn find_by_login(
    conn: &mut AsyncPgConnection,
    login: &str,
) -> DomainResult<Option<User>> {
    let key = login.to_lowercase();
    let by_username = users::table
        .filter(lower(users::username).eq(&key))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?;
    if by_username.is_some() {
        return Ok(by_username);
    }
    Ok(users::table
        .filter(lower_nullable(users::email).eq(&key))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The user behind an access token, if the user is active and the session not revoked.
pub async fn authenticate_session(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    session_id: Uuid,
) -> DomainResult<Option<User>> {
    Ok(users::table
        .inner_join(auth_sessions::table)
        .filter(users::id.eq(user_id))
        .filter(users::is_active.eq(true))
        .filter(auth_sessions::id.eq(session_id))
        .filter(auth_sessions::revoked_at.is_null())
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

fn filtered(filter: &UserFilter) -> users::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = users::table.into_boxed();
    if let Some(role) = filter.role {
        query = query.filter(users::role.eq(role));
    }
    if let Some(active) = filter.is_active {
        query = query.filter(users::is_active.eq(active));
    }
    if let Some(search) = &filter.search {
        for term in search.split_whitespace().take(8) {
            let pattern = ecole_core::contains_pattern(term);
            query = query.filter(
                users::username
                    .ilike(pattern.clone())
                    .or(users::email.ilike(pattern.clone()))
                    .or(users::first_name.ilike(pattern.clone()))
                    .or(users::last_name.ilike(pattern)),
            );
        }
    }
    query
}

/// One page of users and the list's total: two queries whatever the page size (a count
/// and an indexed page; cheaper for PostgreSQL than one `COUNT(*) OVER ()`).
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &UserFilter,
    page: PageRequest,
) -> DomainResult<Page<User>> {
    let count: i64 = filtered(filter).count().get_result(conn).await?;
    if count <= page.offset() {
        return Ok(Page {
            count,
            results: Vec::new(),
            request: page,
        });
    }
    let mut query = filtered(filter).select(User::as_select());
    for (field, desc) in &filter.ordering {
        query = match (field, desc) {
            (UserOrdering::Username, false) => query.then_order_by(users::username.asc()),
            (UserOrdering::Username, true) => query.then_order_by(users::username.desc()),
            (UserOrdering::LastName, false) => query.then_order_by(users::last_name.asc()),
            (UserOrdering::LastName, true) => query.then_order_by(users::last_name.desc()),
            (UserOrdering::FirstName, false) => query.then_order_by(users::first_name.asc()),
            (UserOrdering::FirstName, true) => query.then_order_by(users::first_name.desc()),
            (UserOrdering::Email, false) => query.then_order_by(users::email.asc()),
            (UserOrdering::Email, true) => query.then_order_by(users::email.desc()),
            (UserOrdering::Role, false) => query.then_order_by(users::role.asc()),
            (UserOrdering::Role, true) => query.then_order_by(users::role.desc()),
            (UserOrdering::CreatedAt, false) => query.then_order_by(users::created_at.asc()),
            (UserOrdering::CreatedAt, true) => query.then_order_by(users::created_at.desc()),
            (UserOrdering::LastLogin, false) => query.then_order_by(users::last_login.asc()),
            (UserOrdering::LastLogin, true) => query.then_order_by(users::last_login.desc()),
            (UserOrdering::Id, false) => query.then_order_by(users::id.asc()),
            (UserOrdering::Id, true) => query.then_order_by(users::id.desc()),
        };
    }
    let results: Vec<User> = query
        .then_order_by(users::id.asc())
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        count,
        results,
        request: page,
    })
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUserRow<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub role: ecole_core::Role,
    pub telephone: Option<&'a str>,
    pub is_active: bool,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    row: NewUserRow<'_>,
) -> Result<User, diesel::result::Error> {
    diesel::insert_into(users::table)
        .values(row)
        .returning(User::as_returning())
        .get_result(conn)
        .await
}

/// Many users in few statements (imports), in the order given.
pub async fn insert_many(
    conn: &mut AsyncPgConnection,
    rows: &[NewUserRow<'_>],
) -> Result<Vec<User>, diesel::result::Error> {
    let mut out = Vec::with_capacity(rows.len());
    // 8 parameters a row: well under PostgreSQL's 65,535 per statement.
    for chunk in rows.chunks(1_000) {
        let created: Vec<User> = diesel::insert_into(users::table)
            .values(chunk)
            .returning(User::as_returning())
            .get_results(conn)
            .await?;
        out.extend(created);
    }
    Ok(out)
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub username: Option<String>,
    pub email: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<ecole_core::Role>,
    pub telephone: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub last_login: Option<Option<DateTime<Utc>>>,
}

impl UserChanges {
    /// Nothing to set (an empty PATCH): diesel cannot build an UPDATE without a column.
    pub fn is_empty(&self) -> bool {
        self.username.is_none()
            && self.email.is_none()
            && self.password_hash.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.role.is_none()
            && self.telephone.is_none()
            && self.is_active.is_none()
            && self.last_login.is_none()
    }
}

/// Applies `changes`; with none, the row as it is.
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i64,
    changes: &UserChanges,
) -> Result<User, diesel::result::Error> {
    if changes.is_empty() {
        return users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .await;
    }
    diesel::update(users::table.find(id))
        .set(changes)
        .returning(User::as_returning())
        .get_result(conn)
        .await
}

/// Locks the row for the rest of the transaction.
pub async fn get_for_update(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<Option<User>> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

pub async fn count(conn: &mut AsyncPgConnection) -> DomainResult<i64> {
    Ok(users::table.count().get_result(conn).await?)
}

// --- sessions and refresh tokens ---

pub async fn create_session(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> DomainResult<Uuid> {
    let id = Uuid::new_v4();
    diesel::insert_into(auth_sessions::table)
        .values((
            auth_sessions::id.eq(id),
            auth_sessions::user_id.eq(user_id),
            auth_sessions::ip.eq(ip),
            auth_sessions::user_agent
                .eq(user_agent.map(|ua| ua.chars().take(255).collect::<String>())),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

pub async fn insert_refresh(
    conn: &mut AsyncPgConnection,
    session_id: Uuid,
    digest: &[u8],
    expires_at: DateTime<Utc>,
) -> DomainResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::token_hash.eq(digest),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks an unused, unexpired refresh token as used; returns its session when it was.
pub async fn consume_refresh(
    conn: &mut AsyncPgConnection,
    digest: &[u8],
) -> DomainResult<Option<Uuid>> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(digest))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::expires_at.gt(Utc::now())),
    )
    .set(refresh_tokens::used_at.eq(Utc::now()))
    .returning(refresh_tokens::session_id)
    .get_result(conn)
    .await
    .optional()?)
}

/// The session of a refresh token whatever its state, and whether it was already used.
pub async fn find_refresh(
    conn: &mut AsyncPgConnection,
    digest: &[u8],
) -> DomainResult<Option<(Uuid, bool)>> {
    let row: Option<(Uuid, Option<DateTime<Utc>>)> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(digest))
        .select((refresh_tokens::session_id, refresh_tokens::used_at))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(|(sid, used)| (sid, used.is_some())))
}

/// The active session's user id, if the session is not revoked.
pub async fn active_session_user(
    conn: &mut AsyncPgConnection,
    session_id: Uuid,
) -> DomainResult<Option<i64>> {
    Ok(auth_sessions::table
        .filter(auth_sessions::id.eq(session_id))
        .filter(auth_sessions::revoked_at.is_null())
        .select(auth_sessions::user_id)
        .first(conn)
        .await
        .optional()?)
}

pub async fn touch_session(conn: &mut AsyncPgConnection, session_id: Uuid) -> DomainResult<()> {
    diesel::update(auth_sessions::table.find(session_id))
        .set(auth_sessions::last_used_at.eq(Utc::now()))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn revoke_session(
    conn: &mut AsyncPgConnection,
    session_id: Uuid,
    reason: &str,
) -> DomainResult<()> {
    diesel::update(
        auth_sessions::table
            .filter(auth_sessions::id.eq(session_id))
            .filter(auth_sessions::revoked_at.is_null()),
    )
    .set((
        auth_sessions::revoked_at.eq(Utc::now()),
        auth_sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes every open session of a user, but `keep` when given.
pub async fn revoke_user_sessions(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    keep: Option<Uuid>,
    reason: &str,
) -> DomainResult<usize> {
    let mut query = diesel::update(auth_sessions::table)
        .filter(auth_sessions::user_id.eq(user_id))
        .filter(auth_sessions::revoked_at.is_null())
        .into_boxed();
    if let Some(keep) = keep {
        query = query.filter(auth_sessions::id.ne(keep));
    }
    Ok(query
        .set((
            auth_sessions::revoked_at.eq(Utc::now()),
            auth_sessions::revoked_reason.eq(reason),
        ))
        .execute(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> DomainResult<()> {
    diesel::delete(users::table.find(id)).execute(conn).await?;
    Ok(())
}
