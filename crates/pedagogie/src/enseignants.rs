//! Teachers: a profile 1–1 with a user of role ENSEIGNANT.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::error::unique_violation;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest, Role};
use ecole_db::schema::{enseignants, enseignements, notes, users};
use ecole_users::{User, UserOut};
use serde::{Deserialize, Serialize};

use crate::MANAGEMENT;
use crate::profile::{UserFields, prepare};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = enseignants, check_for_backend(diesel::pg::Pg))]
pub struct Enseignant {
    pub id: i64,
    pub user_id: i64,
    pub matricule: String,
    pub specialite: String,
    pub date_embauche: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EnseignantOut {
    pub id: i64,
    pub user: UserOut,
    pub nom_complet: String,
    pub matricule: String,
    pub specialite: String,
    pub date_embauche: Option<NaiveDate>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl From<(Enseignant, User)> for EnseignantOut {
    fn from((e, u): (Enseignant, User)) -> Self {
        EnseignantOut {
            id: e.id,
            nom_complet: u.get_full_name(),
            user: UserOut::from(u),
            matricule: e.matricule,
            specialite: e.specialite,
            date_embauche: e.date_embauche,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnseignantCreate {
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
    pub matricule: String,
    #[serde(default)]
    pub specialite: String,
    #[serde(default)]
    pub date_embauche: Option<NaiveDate>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnseignantUpdate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub telephone: Option<Option<String>>,
    pub matricule: Option<String>,
    pub specialite: Option<String>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub date_embauche: Option<Option<NaiveDate>>,
}

#[derive(Debug, Clone, Default)]
pub struct EnseignantFilter {
    pub search: Option<String>,
    pub ordering: Vec<(&'static str, bool)>,
}

pub const ENSEIGNANT_ORDERING: &[&str] = &["nom", "matricule"];

fn map_unique(e: diesel::result::Error) -> DomainError {
    match unique_violation(&e) {
        Some("enseignants_matricule_key") => {
            DomainError::validation("matricule", "Un enseignant porte déjà ce matricule.")
        }
        _ => e.into(),
    }
}

fn check_matricule(m: &str, errors: &mut FieldErrors) {
    if m.trim().is_empty() || m.trim().chars().count() > 30 {
        errors.add("matricule", "Matricule de 1 à 30 caractères.");
    }
}

/// Staff read the teachers; families do not.
fn can_read(actor: &Actor) -> DomainResult<()> {
    if actor.role.is_staff() {
        Ok(())
    } else {
        Err(DomainError::PermissionDenied(
            "Vous n'avez pas accès aux enseignants.".into(),
        ))
    }
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &EnseignantFilter,
    page: PageRequest,
) -> DomainResult<Page<EnseignantOut>> {
    can_read(actor)?;
    let base = || {
        let mut q = enseignants::table.into_boxed();
        if let Some(search) = &filter.search {
            for term in search.split_whitespace().take(6) {
                let p = ecole_core::contains_pattern(term);
                q = q.filter(
                    enseignants::matricule
                        .ilike(p.clone())
                        .or(enseignants::specialite.ilike(p.clone()))
                        .or(enseignants::user_id.eq_any(
                            users::table
                                .filter(
                                    users::first_name
                                        .ilike(p.clone())
                                        .or(users::last_name.ilike(p)),
                                )
                                .select(users::id),
                        )),
                );
            }
        }
        q
    };
    let count: i64 = base().count().get_result(conn).await?;
    let mut q = base()
        .inner_join(users::table)
        .select((Enseignant::as_select(), User::as_select()));
    for (field, desc) in &filter.ordering {
        q = match (*field, desc) {
            ("matricule", false) => q.then_order_by(enseignants::matricule.asc()),
            ("matricule", true) => q.then_order_by(enseignants::matricule.desc()),
            ("nom", false) => q.then_order_by((users::last_name.asc(), users::first_name.asc())),
            (_, _) => q.then_order_by((users::last_name.desc(), users::first_name.desc())),
        };
    }
    let rows: Vec<(Enseignant, User)> = q
        .then_order_by((
            users::last_name.asc(),
            users::first_name.asc(),
            enseignants::id.asc(),
        ))
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        count,
        results: rows.into_iter().map(EnseignantOut::from).collect(),
        request: page,
    })
}

async fn get_row(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<(Enseignant, User)> {
    can_read(actor).map_err(|_| DomainError::NotFound)?;
    enseignants::table
        .filter(enseignants::id.eq(id))
        .inner_join(users::table)
        .select((Enseignant::as_select(), User::as_select()))
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<EnseignantOut> {
    Ok(get_row(conn, actor, id).await?.into())
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    body: EnseignantCreate,
) -> DomainResult<EnseignantOut> {
    actor.require(MANAGEMENT)?;
    let mut errors = FieldErrors::new();
    check_matricule(&body.matricule, &mut errors);
    let fields = UserFields {
        username: body.username,
        email: body.email,
        password: body.password,
        first_name: body.first_name,
        last_name: body.last_name,
        telephone: body.telephone,
    };
    let prepared = prepare(&fields, Role::Enseignant, &mut errors).await?;
    let Some(prepared) = prepared.filter(|_| errors.is_empty()) else {
        return Err(DomainError::Validation(errors));
    };
    let actor = *actor;
    let (matricule, specialite, date_embauche) = (
        body.matricule.trim().to_string(),
        body.specialite.trim().to_string(),
        body.date_embauche,
    );
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let user = ecole_users::service::insert_user_in_tx(conn, Some(&actor), &prepared).await?;
        let e: Enseignant = diesel::insert_into(enseignants::table)
            .values((
                enseignants::user_id.eq(user.id),
                enseignants::matricule.eq(matricule),
                enseignants::specialite.eq(specialite),
                enseignants::date_embauche.eq(date_embauche),
            ))
            .returning(Enseignant::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        Ok(EnseignantOut::from((e, user)))
    })
    .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    body: EnseignantUpdate,
) -> DomainResult<EnseignantOut> {
    let (ens, user) = get_row(conn, actor, id).await?;
    actor.require(MANAGEMENT)?;
    let mut errors = FieldErrors::new();
    let matricule = body.matricule.unwrap_or(ens.matricule).trim().to_string();
    check_matricule(&matricule, &mut errors);
    errors.into_result()?;
    let specialite = body.specialite.unwrap_or(ens.specialite).trim().to_string();
    let date_embauche = body.date_embauche.unwrap_or(ens.date_embauche);
    let user_update = ecole_users::UserUpdate {
        first_name: body.first_name,
        last_name: body.last_name,
        email: body.email,
        telephone: body.telephone,
        ..Default::default()
    };
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let e: Enseignant = diesel::update(enseignants::table.find(id))
            .set((
                enseignants::matricule.eq(matricule),
                enseignants::specialite.eq(specialite),
                enseignants::date_embauche.eq(date_embauche),
            ))
            .returning(Enseignant::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        let user =
            ecole_users::service::update_profile_user_in_tx(conn, &actor, user.id, &user_update)
                .await?;
        Ok(EnseignantOut::from((e, user)))
    })
    .await
}

/// Refused (409) while the teacher has assignments or entered grades; deactivate the account
/// instead (the grades name who entered them).
pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    let (ens, user) = get_row(conn, actor, id).await?;
    actor.require(MANAGEMENT)?;
    let assignments: i64 = enseignements::table
        .filter(enseignements::enseignant_id.eq(ens.id))
        .count()
        .get_result(conn)
        .await?;
    let grades: i64 = notes::table
        .filter(notes::saisie_par.eq(user.id))
        .count()
        .get_result(conn)
        .await?;
    if assignments + grades > 0 {
        return Err(DomainError::Conflict(
            "Cet enseignant a des enseignements ou a saisi des notes : désactivez son compte plutôt que de le supprimer."
                .into(),
        ));
    }
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        diesel::delete(enseignants::table.find(ens.id))
            .execute(conn)
            .await?;
        ecole_users::service::delete_profile_user_in_tx(conn, &actor, user.id).await?;
        Ok(())
    })
    .await
}
