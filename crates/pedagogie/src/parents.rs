//! Parents: a profile 1–1 with a user of role PARENT, linked to pupils with a `lien`. A link
//! lets the parent read a minor's records: every link, change of link and unlink is audited
//! (table `eleve_parents`), including those a deletion takes along.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest, Role};
use ecole_db::enums::Lien;
use ecole_db::schema::{eleve_parents, parents, users};
use ecole_users::{User, UserOut};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::MANAGEMENT;
use crate::eleves::get_scoped;
use crate::profile::{UserFields, prepare};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = parents, check_for_backend(diesel::pg::Pg))]
pub struct Parent {
    pub id: i64,
    pub user_id: i64,
    pub profession: String,
    pub adresse: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParentOut {
    pub id: i64,
    pub user: UserOut,
    pub nom_complet: String,
    pub profession: String,
    pub adresse: String,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl From<(Parent, User)> for ParentOut {
    fn from((p, u): (Parent, User)) -> Self {
        ParentOut {
            id: p.id,
            nom_complet: u.get_full_name(),
            user: UserOut::from(u),
            profession: p.profession,
            adresse: p.adresse,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A parent of a pupil, with the link (`eleves/<id>/parents/`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParentLienOut {
    pub lien: Lien,
    pub parent: ParentOut,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParentCreate {
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    pub password: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub telephone: Option<String>,
    #[serde(default)]
    pub profession: String,
    #[serde(default)]
    pub adresse: String,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParentUpdate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub telephone: Option<Option<String>>,
    pub profession: Option<String>,
    pub adresse: Option<String>,
}

/// `POST eleves/<id>/parents/`: links an existing parent.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LienInput {
    pub parent: i64,
    #[serde(default = "default_lien")]
    pub lien: Lien,
}

fn default_lien() -> Lien {
    Lien::Autre
}

#[derive(Debug, Clone, Default)]
pub struct ParentFilter {
    pub search: Option<String>,
    pub eleve: Option<i64>,
    /// `nom` only: descending when true.
    pub ordering: Vec<(&'static str, bool)>,
}

pub const PARENT_ORDERING: &[&str] = &["nom"];

const PARENT_READERS: &[Role] = &[Role::Admin, Role::Direction, Role::Comptable];

fn scoped(actor: &Actor) -> DomainResult<parents::BoxedQuery<'static, diesel::pg::Pg>> {
    let q = parents::table.into_boxed();
    if PARENT_READERS.contains(&actor.role) {
        Ok(q)
    } else if actor.role == Role::Parent {
        Ok(q.filter(parents::user_id.eq(actor.user_id)))
    } else {
        Err(DomainError::PermissionDenied(
            "Vous n'avez pas accès aux parents.".into(),
        ))
    }
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &ParentFilter,
    page: PageRequest,
) -> DomainResult<Page<ParentOut>> {
    scoped(actor)?;
    let base = || {
        let mut q = scoped(actor)
            .unwrap_or_else(|_| parents::table.into_boxed().filter(parents::id.eq(-1)));
        if let Some(e) = filter.eleve {
            q = q.filter(
                parents::id.eq_any(
                    eleve_parents::table
                        .filter(eleve_parents::eleve_id.eq(e))
                        .select(eleve_parents::parent_id),
                ),
            );
        }
        if let Some(search) = &filter.search {
            for term in search.split_whitespace().take(6) {
                let p = ecole_core::contains_pattern(term);
                q = q.filter(
                    parents::user_id.eq_any(
                        users::table
                            .filter(
                                users::first_name
                                    .ilike(p.clone())
                                    .or(users::last_name.ilike(p.clone()))
                                    .or(users::telephone.ilike(p)),
                            )
                            .select(users::id),
                    ),
                );
            }
        }
        q
    };
    let count: i64 = base().count().get_result(conn).await?;
    let q = base()
        .inner_join(users::table)
        .select((Parent::as_select(), User::as_select()));
    let q = if matches!(filter.ordering.as_slice(), [(_, true), ..]) {
        q.order((users::last_name.desc(), users::first_name.desc()))
    } else {
        q.order((users::last_name.asc(), users::first_name.asc()))
    };
    let rows: Vec<(Parent, User)> = q
        .then_order_by(parents::id.asc())
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        count,
        results: rows.into_iter().map(ParentOut::from).collect(),
        request: page,
    })
}

async fn get_row(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<(Parent, User)> {
    scoped(actor)
        .map_err(|_| DomainError::NotFound)?
        .filter(parents::id.eq(id))
        .inner_join(users::table)
        .select((Parent::as_select(), User::as_select()))
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

pub async fn get(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<ParentOut> {
    Ok(get_row(conn, actor, id).await?.into())
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    body: ParentCreate,
) -> DomainResult<ParentOut> {
    actor.require(MANAGEMENT)?;
    let mut errors = FieldErrors::new();
    let fields = UserFields {
        username: body.username,
        email: body.email,
        password: body.password,
        first_name: body.first_name,
        last_name: body.last_name,
        telephone: body.telephone,
    };
    let prepared = prepare(&fields, Role::Parent, &mut errors).await?;
    let Some(prepared) = prepared.filter(|_| errors.is_empty()) else {
        return Err(DomainError::Validation(errors));
    };
    let actor = *actor;
    let (profession, adresse) = (
        body.profession.trim().to_string(),
        body.adresse.trim().to_string(),
    );
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let user = ecole_users::service::insert_user_in_tx(conn, Some(&actor), &prepared).await?;
        let parent: Parent = diesel::insert_into(parents::table)
            .values((
                parents::user_id.eq(user.id),
                parents::profession.eq(profession),
                parents::adresse.eq(adresse),
            ))
            .returning(Parent::as_returning())
            .get_result(conn)
            .await?;
        Ok(ParentOut::from((parent, user)))
    })
    .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    body: ParentUpdate,
) -> DomainResult<ParentOut> {
    let (parent, user) = get_row(conn, actor, id).await?;
    actor.require(MANAGEMENT)?;
    let actor = *actor;
    let profession = body
        .profession
        .unwrap_or(parent.profession)
        .trim()
        .to_string();
    let adresse = body.adresse.unwrap_or(parent.adresse).trim().to_string();
    let user_update = ecole_users::UserUpdate {
        first_name: body.first_name,
        last_name: body.last_name,
        email: body.email,
        telephone: body.telephone,
        ..Default::default()
    };
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let parent: Parent = diesel::update(parents::table.find(id))
            .set((
                parents::profession.eq(profession),
                parents::adresse.eq(adresse),
            ))
            .returning(Parent::as_returning())
            .get_result(conn)
            .await?;
        let user =
            ecole_users::service::update_profile_user_in_tx(conn, &actor, user.id, &user_update)
                .await?;
        Ok(ParentOut::from((parent, user)))
    })
    .await
}

pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    let (parent, user) = get_row(conn, actor, id).await?;
    actor.require(MANAGEMENT)?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        unlink_where(conn, &actor, None, Some(parent.id)).await?;
        diesel::delete(parents::table.find(parent.id))
            .execute(conn)
            .await?;
        ecole_users::service::delete_profile_user_in_tx(conn, &actor, user.id).await?;
        Ok(())
    })
    .await
}

/// `GET eleves/<id>/parents/`: the parents of a pupil in the actor's scope.
pub async fn of_eleve(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    eleve_id: i64,
) -> DomainResult<Vec<ParentLienOut>> {
    get_scoped(conn, actor, eleve_id).await?;
    let rows: Vec<(Lien, Parent, User)> = eleve_parents::table
        .inner_join(parents::table.inner_join(users::table))
        .filter(eleve_parents::eleve_id.eq(eleve_id))
        .select((eleve_parents::lien, Parent::as_select(), User::as_select()))
        .order(eleve_parents::id.asc())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(lien, p, u)| ParentLienOut {
            lien,
            parent: ParentOut::from((p, u)),
        })
        .collect())
}

/// A link as the journal keeps it.
fn lien_json(eleve: i64, parent: i64, lien: Lien) -> Value {
    json!({"eleve": eleve, "parent": parent, "lien": lien})
}

/// A link as written to the journal: id, pupil, parent, relation.
pub(crate) const LINK_COLUMNS: (
    eleve_parents::id,
    eleve_parents::eleve_id,
    eleve_parents::parent_id,
    eleve_parents::lien,
) = (
    eleve_parents::id,
    eleve_parents::eleve_id,
    eleve_parents::parent_id,
    eleve_parents::lien,
);

/// The journal entry of a new link (`eleve_parents` row `id`).
pub(crate) fn link_entry(
    actor: &Actor,
    id: i64,
    eleve: i64,
    parent: i64,
    lien: Lien,
) -> AuditEntry<'_> {
    AuditEntry {
        actor: Some(actor),
        action: AuditAction::Create,
        table: "eleve_parents",
        row_id: Some(id),
        before: None,
        after: Some(lien_json(eleve, parent, lien)),
    }
}

/// `POST eleves/<id>/parents/`: links a parent (again: updates the link); audited.
pub async fn link(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    eleve_id: i64,
    input: LienInput,
) -> DomainResult<ParentLienOut> {
    get_scoped(conn, actor, eleve_id).await?;
    actor.require(MANAGEMENT)?;
    let parent = get_row(conn, actor, input.parent)
        .await
        .map_err(|_| DomainError::validation("parent", "Parent introuvable."))?;
    let actor = *actor;
    let (parent_id, lien) = (input.parent, input.lien);
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let before: Option<Lien> = eleve_parents::table
            .filter(eleve_parents::eleve_id.eq(eleve_id))
            .filter(eleve_parents::parent_id.eq(parent_id))
            .select(eleve_parents::lien)
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let id: i64 = diesel::insert_into(eleve_parents::table)
            .values((
                eleve_parents::eleve_id.eq(eleve_id),
                eleve_parents::parent_id.eq(parent_id),
                eleve_parents::lien.eq(lien),
            ))
            .on_conflict((eleve_parents::eleve_id, eleve_parents::parent_id))
            .do_update()
            .set(eleve_parents::lien.eq(lien))
            .returning(eleve_parents::id)
            .get_result(conn)
            .await?;
        let entry = match before {
            None => Some(link_entry(&actor, id, eleve_id, parent_id, lien)),
            Some(old) if old != lien => Some(AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Update,
                table: "eleve_parents",
                row_id: Some(id),
                before: Some(lien_json(eleve_id, parent_id, old)),
                after: Some(lien_json(eleve_id, parent_id, lien)),
            }),
            Some(_) => None,
        };
        if let Some(entry) = entry {
            audit::record(conn, entry).await?;
        }
        Ok(())
    })
    .await?;
    Ok(ParentLienOut {
        lien,
        parent: parent.into(),
    })
}

/// `DELETE eleves/<id>/parents/<parent_id>/`: the parent no longer sees the pupil's records;
/// audited. A link that does not exist is not found.
pub async fn unlink(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    eleve_id: i64,
    parent_id: i64,
) -> DomainResult<()> {
    get_scoped(conn, actor, eleve_id).await?;
    actor.require(MANAGEMENT)?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        match unlink_where(conn, &actor, Some(eleve_id), Some(parent_id)).await? {
            0 => Err(DomainError::NotFound),
            _ => Ok(()),
        }
    })
    .await
}

/// Removes the links of a pupil, of a parent, or between both, with one journal entry each,
/// in the caller's transaction. Returns how many were removed.
pub(crate) async fn unlink_where(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    eleve: Option<i64>,
    parent: Option<i64>,
) -> DomainResult<usize> {
    let mut q = diesel::delete(eleve_parents::table).into_boxed();
    if let Some(e) = eleve {
        q = q.filter(eleve_parents::eleve_id.eq(e));
    }
    if let Some(p) = parent {
        q = q.filter(eleve_parents::parent_id.eq(p));
    }
    let removed: Vec<(i64, i64, i64, Lien)> = q.returning(LINK_COLUMNS).get_results(conn).await?;
    let n = removed.len();
    let entries = removed
        .into_iter()
        .map(|(id, e, p, lien)| AuditEntry {
            actor: Some(actor),
            action: AuditAction::Delete,
            table: "eleve_parents",
            row_id: Some(id),
            before: Some(lien_json(e, p, lien)),
            after: None,
        })
        .collect();
    audit::record_many(conn, entries).await?;
    Ok(n)
}
