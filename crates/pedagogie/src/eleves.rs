//! Pupils: a profile 1–1 with a user of role ELEVE.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::error::unique_violation;
use ecole_core::phone::normalize_phone;
use ecole_core::scope::Scope;
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Page, PageRequest, Role};
use ecole_db::enums::{Sexe, StatutEleve};
use ecole_db::schema::{classes, eleves, notes, users};
use ecole_users::{User, UserOut};
use serde::{Deserialize, Serialize};

use crate::profile::{UserFields, prepare};
use crate::{MANAGEMENT, PUPIL_READERS};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = eleves, check_for_backend(diesel::pg::Pg))]
pub struct Eleve {
    pub id: i64,
    pub user_id: i64,
    pub matricule: String,
    pub classe_actuelle_id: Option<i64>,
    pub date_naissance: Option<NaiveDate>,
    pub lieu_naissance: String,
    pub sexe: Sexe,
    pub adresse: String,
    pub contact_urgence_nom: String,
    pub contact_urgence_phone: String,
    pub contact_urgence_relation: String,
    pub date_admission: NaiveDate,
    pub statut: StatutEleve,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A pupil as the API shows it: the profile and its user.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EleveOut {
    pub id: i64,
    pub user: UserOut,
    pub nom_complet: String,
    pub matricule: String,
    pub classe_actuelle: Option<i64>,
    pub date_naissance: Option<NaiveDate>,
    pub lieu_naissance: String,
    pub sexe: Sexe,
    pub adresse: String,
    pub contact_urgence_nom: String,
    pub contact_urgence_phone: String,
    pub contact_urgence_relation: String,
    pub date_admission: NaiveDate,
    pub statut: StatutEleve,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl From<(Eleve, User)> for EleveOut {
    fn from((e, u): (Eleve, User)) -> Self {
        EleveOut {
            id: e.id,
            nom_complet: u.get_full_name(),
            user: UserOut::from(u),
            matricule: e.matricule,
            classe_actuelle: e.classe_actuelle_id,
            date_naissance: e.date_naissance,
            lieu_naissance: e.lieu_naissance,
            sexe: e.sexe,
            adresse: e.adresse,
            contact_urgence_nom: e.contact_urgence_nom,
            contact_urgence_phone: e.contact_urgence_phone,
            contact_urgence_relation: e.contact_urgence_relation,
            date_admission: e.date_admission,
            statut: e.statut,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// The profile's own fields.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct EleveFields {
    pub matricule: String,
    #[serde(rename = "classe_actuelle", default)]
    pub classe_actuelle_id: Option<i64>,
    #[serde(default)]
    pub date_naissance: Option<NaiveDate>,
    #[serde(default)]
    pub lieu_naissance: String,
    pub sexe: Sexe,
    #[serde(default)]
    pub adresse: String,
    #[serde(default)]
    pub contact_urgence_nom: String,
    #[serde(default)]
    pub contact_urgence_phone: String,
    #[serde(default)]
    pub contact_urgence_relation: String,
    #[serde(default)]
    pub date_admission: Option<NaiveDate>,
    #[serde(default)]
    pub statut: Option<StatutEleve>,
}

/// `POST eleves/`: the user's fields and the profile's, flat (docs/SPEC.md §4).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EleveCreate {
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
    #[serde(rename = "classe_actuelle", default)]
    pub classe_actuelle_id: Option<i64>,
    #[serde(default)]
    pub date_naissance: Option<NaiveDate>,
    #[serde(default)]
    pub lieu_naissance: String,
    pub sexe: Sexe,
    #[serde(default)]
    pub adresse: String,
    #[serde(default)]
    pub contact_urgence_nom: String,
    #[serde(default)]
    pub contact_urgence_phone: String,
    #[serde(default)]
    pub contact_urgence_relation: String,
    #[serde(default)]
    pub date_admission: Option<NaiveDate>,
    #[serde(default)]
    pub statut: Option<StatutEleve>,
}

impl EleveCreate {
    fn split(self) -> (UserFields, EleveFields) {
        (
            UserFields {
                username: self.username,
                email: self.email,
                password: self.password,
                first_name: self.first_name,
                last_name: self.last_name,
                telephone: self.telephone,
            },
            EleveFields {
                matricule: self.matricule,
                classe_actuelle_id: self.classe_actuelle_id,
                date_naissance: self.date_naissance,
                lieu_naissance: self.lieu_naissance,
                sexe: self.sexe,
                adresse: self.adresse,
                contact_urgence_nom: self.contact_urgence_nom,
                contact_urgence_phone: self.contact_urgence_phone,
                contact_urgence_relation: self.contact_urgence_relation,
                date_admission: self.date_admission,
                statut: self.statut,
            },
        )
    }
}

/// `PATCH eleves/<id>/` (and `PUT`, every field optional): profile fields and the user's
/// names, email and phone.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EleveUpdate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub telephone: Option<Option<String>>,
    pub matricule: Option<String>,
    #[serde(
        rename = "classe_actuelle",
        default,
        deserialize_with = "ecole_core::serde_util::double_option"
    )]
    #[schema(value_type = Option<i64>)]
    pub classe_actuelle_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "ecole_core::serde_util::double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub date_naissance: Option<Option<NaiveDate>>,
    pub lieu_naissance: Option<String>,
    pub sexe: Option<Sexe>,
    pub adresse: Option<String>,
    pub contact_urgence_nom: Option<String>,
    pub contact_urgence_phone: Option<String>,
    pub contact_urgence_relation: Option<String>,
    pub date_admission: Option<NaiveDate>,
    pub statut: Option<StatutEleve>,
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = eleves, treat_none_as_null = true)]
struct EleveValues {
    matricule: String,
    classe_actuelle_id: Option<i64>,
    date_naissance: Option<NaiveDate>,
    lieu_naissance: String,
    sexe: Sexe,
    adresse: String,
    contact_urgence_nom: String,
    contact_urgence_phone: String,
    contact_urgence_relation: String,
    date_admission: NaiveDate,
    statut: StatutEleve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EleveOrdering {
    Matricule,
    Nom,
    DateAdmission,
}

impl EleveOrdering {
    pub const FIELDS: &'static [&'static str] = &["matricule", "nom", "date_admission"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "matricule" => Some(Self::Matricule),
            "nom" | "last_name" => Some(Self::Nom),
            "date_admission" => Some(Self::DateAdmission),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct EleveFilter {
    pub classe: Option<i64>,
    pub annee_scolaire: Option<i64>,
    pub statut: Option<StatutEleve>,
    pub sexe: Option<Sexe>,
    pub search: Option<String>,
    pub ordering: Vec<(EleveOrdering, bool)>,
}

fn map_unique(e: diesel::result::Error) -> DomainError {
    match unique_violation(&e) {
        Some("eleves_matricule_key") => {
            DomainError::validation("matricule", "Un élève porte déjà ce matricule.")
        }
        _ => e.into(),
    }
}

async fn check_fields(
    conn: &mut AsyncPgConnection,
    f: &mut EleveFields,
    errors: &mut FieldErrors,
) -> DomainResult<()> {
    f.matricule = f.matricule.trim().to_string();
    if f.matricule.is_empty() || f.matricule.chars().count() > 30 {
        errors.add(
            "matricule",
            "Matricule de 1 à 30 caractères (ex. 2026/001).",
        );
    }
    if let Some(classe) = f.classe_actuelle_id {
        let n: i64 = classes::table
            .filter(classes::id.eq(classe))
            .count()
            .get_result(conn)
            .await?;
        if n == 0 {
            errors.add("classe_actuelle", "Classe introuvable.");
        }
    }
    let phone = f.contact_urgence_phone.trim();
    if !phone.is_empty() {
        match normalize_phone(phone) {
            Ok(p) => f.contact_urgence_phone = p,
            Err(m) => errors.add("contact_urgence_phone", m),
        }
    }
    if let (Some(naissance), Some(admission)) = (f.date_naissance, f.date_admission)
        && naissance >= admission
    {
        errors.add(
            "date_naissance",
            "La date de naissance doit précéder l'admission.",
        );
    }
    Ok(())
}

fn values(f: EleveFields) -> EleveValues {
    EleveValues {
        matricule: f.matricule,
        classe_actuelle_id: f.classe_actuelle_id,
        date_naissance: f.date_naissance,
        lieu_naissance: f.lieu_naissance.trim().to_string(),
        sexe: f.sexe,
        adresse: f.adresse.trim().to_string(),
        contact_urgence_nom: f.contact_urgence_nom.trim().to_string(),
        contact_urgence_phone: f.contact_urgence_phone,
        contact_urgence_relation: f.contact_urgence_relation.trim().to_string(),
        date_admission: f.date_admission.unwrap_or_else(ecole_core::time::today),
        statut: f.statut.unwrap_or(StatutEleve::Actif),
    }
}

/// Who may read pupils at all (then the scope narrows).
fn can_read(actor: &Actor) -> DomainResult<()> {
    if PUPIL_READERS.contains(&actor.role) || matches!(actor.role, Role::Parent | Role::Eleve) {
        Ok(())
    } else {
        Err(DomainError::PermissionDenied(
            "Vous n'avez pas accès aux élèves.".into(),
        ))
    }
}

/// The scope as a filter on `eleves`.
pub fn scoped(scope: &Scope) -> eleves::BoxedQuery<'static, diesel::pg::Pg> {
    let q = eleves::table.into_boxed();
    match scope {
        Scope::All => q,
        Scope::Eleves(ids) => q.filter(eleves::id.eq_any(ids.clone())),
        Scope::Classes(ids) => q.filter(eleves::classe_actuelle_id.eq_any(ids.clone())),
    }
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    filter: &EleveFilter,
    page: PageRequest,
) -> DomainResult<Page<EleveOut>> {
    can_read(actor)?;
    let scope = Scope::of(conn, actor).await?;
    list_in_scope(conn, &scope, filter, page).await
}

/// `classes/<id>/eleves/`: the class must be visible (404), its list is for staff who read
/// pupils (403 for families), narrowed by the scope (a teacher's own classes).
pub async fn list_of_classe(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    classe: i64,
    filter: EleveFilter,
    page: PageRequest,
) -> DomainResult<Page<EleveOut>> {
    let scope = Scope::of(conn, actor).await?;
    ecole_administration::classes::get(conn, &scope, classe).await?;
    if matches!(actor.role, Role::Parent | Role::Eleve) {
        return Err(DomainError::PermissionDenied(
            "La liste de la classe est réservée au personnel.".into(),
        ));
    }
    can_read(actor)?;
    let filter = EleveFilter {
        classe: Some(classe),
        ..filter
    };
    list_in_scope(conn, &scope, &filter, page).await
}

async fn list_in_scope(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    filter: &EleveFilter,
    page: PageRequest,
) -> DomainResult<Page<EleveOut>> {
    let base = || {
        let mut q = scoped(scope);
        if let Some(c) = filter.classe {
            q = q.filter(eleves::classe_actuelle_id.eq(c));
        }
        if let Some(a) = filter.annee_scolaire {
            q = q.filter(
                eleves::classe_actuelle_id.eq_any(
                    classes::table
                        .filter(classes::annee_scolaire_id.eq(a))
                        .select(classes::id.nullable()),
                ),
            );
        }
        if let Some(s) = filter.statut {
            q = q.filter(eleves::statut.eq(s));
        }
        if let Some(s) = filter.sexe {
            q = q.filter(eleves::sexe.eq(s));
        }
        if let Some(search) = &filter.search {
            for term in search.split_whitespace().take(6) {
                let p = ecole_core::contains_pattern(term);
                q = q.filter(
                    eleves::matricule
                        .ilike(p.clone())
                        .or(eleves::user_id.eq_any(
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
    if count <= page.offset() {
        return Ok(Page {
            count,
            results: Vec::new(),
            request: page,
        });
    }
    let mut q = base()
        .inner_join(users::table)
        .select((Eleve::as_select(), User::as_select()));
    for (field, desc) in &filter.ordering {
        q = match (field, desc) {
            (EleveOrdering::Matricule, false) => q.then_order_by(eleves::matricule.asc()),
            (EleveOrdering::Matricule, true) => q.then_order_by(eleves::matricule.desc()),
            (EleveOrdering::Nom, false) => {
                q.then_order_by((users::last_name.asc(), users::first_name.asc()))
            }
            (EleveOrdering::Nom, true) => {
                q.then_order_by((users::last_name.desc(), users::first_name.desc()))
            }
            (EleveOrdering::DateAdmission, false) => q.then_order_by(eleves::date_admission.asc()),
            (EleveOrdering::DateAdmission, true) => q.then_order_by(eleves::date_admission.desc()),
        };
    }
    if filter.ordering.is_empty() {
        // The register's order (and an index scan, not a sort).
        q = q.then_order_by(eleves::matricule.asc());
    }
    let rows: Vec<(Eleve, User)> = q
        .then_order_by(eleves::id.asc())
        .limit(page.limit())
        .offset(page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        count,
        results: rows.into_iter().map(EleveOut::from).collect(),
        request: page,
    })
}

/// One pupil within the actor's scope (404 outside it).
pub async fn get_scoped(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
) -> DomainResult<(Eleve, User)> {
    can_read(actor).map_err(|_| DomainError::NotFound)?;
    let scope = Scope::of(conn, actor).await?;
    scoped(&scope)
        .filter(eleves::id.eq(id))
        .inner_join(users::table)
        .select((Eleve::as_select(), User::as_select()))
        .first(conn)
        .await
        .optional()?
        .ok_or(DomainError::NotFound)
}

pub async fn get(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<EleveOut> {
    Ok(get_scoped(conn, actor, id).await?.into())
}

/// `POST eleves/`: the user and the profile in one transaction.
pub async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    body: EleveCreate,
) -> DomainResult<EleveOut> {
    actor.require(MANAGEMENT)?;
    let (user_fields, mut fields) = body.split();
    let mut errors = FieldErrors::new();
    check_fields(conn, &mut fields, &mut errors).await?;
    let prepared = prepare(&user_fields, Role::Eleve, &mut errors).await?;
    let Some(prepared) = prepared.filter(|_| errors.is_empty()) else {
        return Err(DomainError::Validation(errors));
    };
    let values = values(fields);
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let user = ecole_users::service::insert_user_in_tx(conn, Some(&actor), &prepared).await?;
        let eleve: Eleve = diesel::insert_into(eleves::table)
            .values((&values, eleves::user_id.eq(user.id)))
            .returning(Eleve::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        Ok(EleveOut::from((eleve, user)))
    })
    .await
}

/// `PUT`/`PATCH eleves/<id>/` (ADMIN, DIRECTION).
pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    body: EleveUpdate,
) -> DomainResult<EleveOut> {
    let (eleve, user) = get_scoped(conn, actor, id).await?;
    actor.require(MANAGEMENT)?;
    let mut fields = EleveFields {
        matricule: body.matricule.unwrap_or(eleve.matricule),
        classe_actuelle_id: body.classe_actuelle_id.unwrap_or(eleve.classe_actuelle_id),
        date_naissance: body.date_naissance.unwrap_or(eleve.date_naissance),
        lieu_naissance: body.lieu_naissance.unwrap_or(eleve.lieu_naissance),
        sexe: body.sexe.unwrap_or(eleve.sexe),
        adresse: body.adresse.unwrap_or(eleve.adresse),
        contact_urgence_nom: body
            .contact_urgence_nom
            .unwrap_or(eleve.contact_urgence_nom),
        contact_urgence_phone: body
            .contact_urgence_phone
            .unwrap_or(eleve.contact_urgence_phone),
        contact_urgence_relation: body
            .contact_urgence_relation
            .unwrap_or(eleve.contact_urgence_relation),
        date_admission: Some(body.date_admission.unwrap_or(eleve.date_admission)),
        statut: Some(body.statut.unwrap_or(eleve.statut)),
    };
    let mut errors = FieldErrors::new();
    check_fields(conn, &mut fields, &mut errors).await?;
    let user_update = ecole_users::UserUpdate {
        first_name: body.first_name,
        last_name: body.last_name,
        email: body.email,
        telephone: body.telephone,
        ..Default::default()
    };
    errors.into_result()?;
    let values = values(fields);
    let actor_copy = *actor;
    let user_id = user.id;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let eleve: Eleve = diesel::update(eleves::table.find(id))
            .set(&values)
            .returning(Eleve::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        let user = ecole_users::service::update_profile_user_in_tx(
            conn,
            &actor_copy,
            user_id,
            &user_update,
        )
        .await?;
        Ok(EleveOut::from((eleve, user)))
    })
    .await
}

/// `DELETE eleves/<id>/`: refused once the pupil has grades (deactivate instead).
pub async fn delete(conn: &mut AsyncPgConnection, actor: &Actor, id: i64) -> DomainResult<()> {
    let (eleve, user) = get_scoped(conn, actor, id).await?;
    actor.require(MANAGEMENT)?;
    let grades: i64 = notes::table
        .filter(notes::eleve_id.eq(id))
        .count()
        .get_result(conn)
        .await?;
    if grades > 0 {
        return Err(DomainError::Conflict(
            "Cet élève a des notes : il ne peut pas être supprimé. Passez son statut à TRANSFERE ou EXCLU, ou désactivez son compte."
                .into(),
        ));
    }
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        crate::parents::unlink_where(conn, &actor, Some(eleve.id), None).await?;
        diesel::delete(eleves::table.find(eleve.id))
            .execute(conn)
            .await?;
        ecole_users::service::delete_profile_user_in_tx(conn, &actor, user.id).await?;
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Delete,
                table: "eleves",
                row_id: Some(eleve.id),
                before: serde_json::to_value(EleveOut::from((eleve, user))).ok(),
                after: None,
            },
        )
        .await
    })
    .await
}
