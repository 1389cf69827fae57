//! The append-only audit journal: who changed what, before and after.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_db::schema::audit_log;
use serde_json::Value;

use crate::{Actor, DomainResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Create,
    Update,
    Delete,
    Deactivate,
    RoleChange,
    PasswordChange,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "CREATE",
            AuditAction::Update => "UPDATE",
            AuditAction::Delete => "DELETE",
            AuditAction::Deactivate => "DEACTIVATE",
            AuditAction::RoleChange => "ROLE_CHANGE",
            AuditAction::PasswordChange => "PASSWORD_CHANGE",
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
struct NewAudit<'a> {
    user_id: Option<i64>,
    action: &'a str,
    table_name: &'a str,
    row_id: Option<i64>,
    before: Option<Value>,
    after: Option<Value>,
}

/// One entry of the journal, written in the caller's transaction.
pub struct AuditEntry<'a> {
    pub actor: Option<&'a Actor>,
    pub action: AuditAction,
    pub table: &'a str,
    pub row_id: Option<i64>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl<'a> AuditEntry<'a> {
    /// A change to one row by `actor`, before and after as the API shows them.
    pub fn row<T: serde::Serialize>(
        actor: &'a Actor,
        action: AuditAction,
        table: &'a str,
        row_id: i64,
        before: Option<&T>,
        after: Option<&T>,
    ) -> Self {
        AuditEntry {
            actor: Some(actor),
            action,
            table,
            row_id: Some(row_id),
            before: before.and_then(|v| serde_json::to_value(v).ok()),
            after: after.and_then(|v| serde_json::to_value(v).ok()),
        }
    }
}

/// A row `actor` created (as the API shows it), in the caller's transaction.
pub async fn created<T: serde::Serialize>(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    table: &str,
    row_id: i64,
    after: &T,
) -> DomainResult<()> {
    let entry = AuditEntry::row(actor, AuditAction::Create, table, row_id, None, Some(after));
    record(conn, entry).await
}

/// A row `actor` changed, before and after, in the caller's transaction.
pub async fn updated<T: serde::Serialize>(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    table: &str,
    row_id: i64,
    before: &T,
    after: &T,
) -> DomainResult<()> {
    let entry = AuditEntry::row(
        actor,
        AuditAction::Update,
        table,
        row_id,
        Some(before),
        Some(after),
    );
    record(conn, entry).await
}

/// A row `actor` deleted, as it was, in the caller's transaction.
pub async fn deleted<T: serde::Serialize>(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    table: &str,
    row_id: i64,
    before: &T,
) -> DomainResult<()> {
    let entry = AuditEntry::row(
        actor,
        AuditAction::Delete,
        table,
        row_id,
        Some(before),
        None,
    );
    record(conn, entry).await
}

pub async fn record(conn: &mut AsyncPgConnection, entry: AuditEntry<'_>) -> DomainResult<()> {
    diesel::insert_into(audit_log::table)
        .values(NewAudit {
            user_id: entry.actor.map(|a| a.user_id),
            action: entry.action.as_str(),
            table_name: entry.table,
            row_id: entry.row_id,
            before: entry.before,
            after: entry.after,
        })
        .execute(conn)
        .await?;
    Ok(())
}

/// Many entries in one insert (bulk grade entry).
pub async fn record_many(
    conn: &mut AsyncPgConnection,
    entries: Vec<AuditEntry<'_>>,
) -> DomainResult<()> {
    insert_many(conn, None, entries).await
}

/// Many entries written on behalf of `user_id` (a job acting for whoever asked for it; the
/// entries' own `actor` is ignored).
pub async fn record_many_as(
    conn: &mut AsyncPgConnection,
    user_id: Option<i64>,
    entries: Vec<AuditEntry<'_>>,
) -> DomainResult<()> {
    insert_many(conn, Some(user_id), entries).await
}

async fn insert_many(
    conn: &mut AsyncPgConnection,
    user_id: Option<Option<i64>>,
    entries: Vec<AuditEntry<'_>>,
) -> DomainResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let rows: Vec<NewAudit<'_>> = entries
        .into_iter()
        .map(|e| NewAudit {
            user_id: user_id.unwrap_or(e.actor.map(|a| a.user_id)),
            action: e.action.as_str(),
            table_name: e.table,
            row_id: e.row_id,
            before: e.before,
            after: e.after,
        })
        .collect();
    // 6 parameters a row: well under PostgreSQL's 65,535 per statement.
    for chunk in rows.chunks(5_000) {
        diesel::insert_into(audit_log::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}
