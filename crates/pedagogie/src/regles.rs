//! The school's report-card rules (`bulletins/regles/`): docs/SPEC.md §3's defaults, editable by
//! ADMIN, read by the staff. One row.

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::decimal::{from_json_number, serialize_number};
use ecole_core::time::serde_conakry;
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Role};
use ecole_db::schema::regles_bulletin;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = regles_bulletin, check_for_backend(diesel::pg::Pg))]
pub struct ReglesBulletin {
    /// Weight of the course average (interrogations and homework).
    pub poids_cours: i32,
    /// Weight of the composition.
    pub poids_composition: i32,
    #[serde(serialize_with = "serialize_number")]
    #[schema(value_type = f64)]
    pub seuil_excellent: BigDecimal,
    #[serde(serialize_with = "serialize_number")]
    #[schema(value_type = f64)]
    pub seuil_tres_bien: BigDecimal,
    #[serde(serialize_with = "serialize_number")]
    #[schema(value_type = f64)]
    pub seuil_bien: BigDecimal,
    #[serde(serialize_with = "serialize_number")]
    #[schema(value_type = f64)]
    pub seuil_assez_bien: BigDecimal,
    #[serde(serialize_with = "serialize_number")]
    #[schema(value_type = f64)]
    pub seuil_passable: BigDecimal,
    #[serde(serialize_with = "serialize_number")]
    #[schema(value_type = f64)]
    pub seuil_insuffisant: BigDecimal,
    /// "Tableau d'honneur" from this general average.
    #[serde(serialize_with = "serialize_number")]
    #[schema(value_type = f64)]
    pub seuil_tableau_honneur: BigDecimal,
    /// "Admis(e)" from this annual average, else "Redouble".
    #[serde(serialize_with = "serialize_number")]
    #[schema(value_type = f64)]
    pub seuil_admission: BigDecimal,
    #[serde(serialize_with = "serde_conakry::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

/// `PUT` needs every field, `PATCH` any of them. Thresholds are on /20, 2 decimals at most.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReglesInput {
    pub poids_cours: Option<i32>,
    pub poids_composition: Option<i32>,
    pub seuil_excellent: Option<f64>,
    pub seuil_tres_bien: Option<f64>,
    pub seuil_bien: Option<f64>,
    pub seuil_assez_bien: Option<f64>,
    pub seuil_passable: Option<f64>,
    pub seuil_insuffisant: Option<f64>,
    pub seuil_tableau_honneur: Option<f64>,
    pub seuil_admission: Option<f64>,
}

#[derive(AsChangeset)]
#[diesel(table_name = regles_bulletin)]
struct ReglesChanges {
    poids_cours: i32,
    poids_composition: i32,
    seuil_excellent: BigDecimal,
    seuil_tres_bien: BigDecimal,
    seuil_bien: BigDecimal,
    seuil_assez_bien: BigDecimal,
    seuil_passable: BigDecimal,
    seuil_insuffisant: BigDecimal,
    seuil_tableau_honneur: BigDecimal,
    seuil_admission: BigDecimal,
}

/// Who may read the rules: the staff who see report cards.
const READERS: &[Role] = &[Role::Admin, Role::Direction, Role::Enseignant];

pub async fn get(conn: &mut AsyncPgConnection, actor: &Actor) -> DomainResult<ReglesBulletin> {
    actor.require(READERS)?;
    load(conn).await
}

async fn load(conn: &mut AsyncPgConnection) -> DomainResult<ReglesBulletin> {
    Ok(regles_bulletin::table
        .find(1)
        .select(ReglesBulletin::as_select())
        .first(conn)
        .await?)
}

/// `PUT` (`partial = false`) or `PATCH` the rules (ADMIN); audited.
pub async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: ReglesInput,
    partial: bool,
) -> DomainResult<ReglesBulletin> {
    actor.require(&[Role::Admin])?;
    let actor = *actor;
    conn.transaction::<_, DomainError, _>(async move |conn| {
        let before: ReglesBulletin = regles_bulletin::table
            .find(1)
            .select(ReglesBulletin::as_select())
            .for_update()
            .first(conn)
            .await?;
        let changes = merge(&before, &input, partial)?;
        let after: ReglesBulletin = diesel::update(regles_bulletin::table.find(1))
            .set(&changes)
            .returning(ReglesBulletin::as_returning())
            .get_result(conn)
            .await?;
        audit::record(
            conn,
            AuditEntry {
                actor: Some(&actor),
                action: AuditAction::Update,
                table: "regles_bulletin",
                row_id: Some(1),
                before: serde_json::to_value(&before).ok(),
                after: serde_json::to_value(&after).ok(),
            },
        )
        .await?;
        Ok(after)
    })
    .await
}

/// The new values, validated: weights ≥ 0 and not both 0, thresholds within 0–20 and in
/// decreasing order from `Excellent` to `Insuffisant`.
fn merge(
    current: &ReglesBulletin,
    input: &ReglesInput,
    partial: bool,
) -> DomainResult<ReglesChanges> {
    let mut errors = FieldErrors::new();
    let mut weight = |field: &str, value: Option<i32>, current: i32| -> i32 {
        match value {
            None if !partial => {
                errors.add(field, "Ce champ est obligatoire.");
                current
            }
            None => current,
            Some(v) if !(0..=100).contains(&v) => {
                errors.add(field, "Entre 0 et 100.");
                current
            }
            Some(v) => v,
        }
    };
    let poids_cours = weight("poids_cours", input.poids_cours, current.poids_cours);
    let poids_composition = weight(
        "poids_composition",
        input.poids_composition,
        current.poids_composition,
    );
    let twenty = BigDecimal::from(20);
    let zero = BigDecimal::from(0);
    let mut seuil = |field: &str, value: Option<f64>, current: &BigDecimal| -> BigDecimal {
        match value {
            None if !partial => {
                errors.add(field, "Ce champ est obligatoire.");
                current.clone()
            }
            None => current.clone(),
            Some(v) => match from_json_number(v, 2) {
                Ok(d) if d >= zero && d <= twenty => d,
                Ok(_) => {
                    errors.add(field, "Un seuil est compris entre 0 et 20.");
                    current.clone()
                }
                Err(e) => {
                    errors.add(field, e);
                    current.clone()
                }
            },
        }
    };
    let changes = ReglesChanges {
        poids_cours,
        poids_composition,
        seuil_excellent: seuil(
            "seuil_excellent",
            input.seuil_excellent,
            &current.seuil_excellent,
        ),
        seuil_tres_bien: seuil(
            "seuil_tres_bien",
            input.seuil_tres_bien,
            &current.seuil_tres_bien,
        ),
        seuil_bien: seuil("seuil_bien", input.seuil_bien, &current.seuil_bien),
        seuil_assez_bien: seuil(
            "seuil_assez_bien",
            input.seuil_assez_bien,
            &current.seuil_assez_bien,
        ),
        seuil_passable: seuil(
            "seuil_passable",
            input.seuil_passable,
            &current.seuil_passable,
        ),
        seuil_insuffisant: seuil(
            "seuil_insuffisant",
            input.seuil_insuffisant,
            &current.seuil_insuffisant,
        ),
        seuil_tableau_honneur: seuil(
            "seuil_tableau_honneur",
            input.seuil_tableau_honneur,
            &current.seuil_tableau_honneur,
        ),
        seuil_admission: seuil(
            "seuil_admission",
            input.seuil_admission,
            &current.seuil_admission,
        ),
    };
    if errors.is_empty() {
        if changes.poids_cours + changes.poids_composition == 0 {
            errors.add(
                "non_field_errors",
                "Les deux poids ne peuvent pas être nuls à la fois.",
            );
        }
        let order = [
            &changes.seuil_excellent,
            &changes.seuil_tres_bien,
            &changes.seuil_bien,
            &changes.seuil_assez_bien,
            &changes.seuil_passable,
            &changes.seuil_insuffisant,
        ];
        if order.windows(2).any(|w| w[0] < w[1]) {
            errors.add(
                "non_field_errors",
                "Les seuils des mentions doivent décroître d'« Excellent » à « Insuffisant ».",
            );
        }
    }
    errors.into_result()?;
    Ok(changes)
}
