//! A small school for tests: an active year with three trimesters, classes, subjects, a
//! teacher assigned to one (class, subject), pupils with parents. Inserted directly (fast).

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use ecole_core::Role;
use ecole_db::schema::{
    annees_scolaires, classes, eleve_parents, eleves, enseignants, enseignements, matieres,
    parents, periodes,
};

use crate::{TestApp, TestUser};

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

pub struct Pupil {
    pub id: i64,
    pub user: TestUser,
    pub parent: TestUser,
    pub parent_id: i64,
}

pub struct School {
    pub annee: i64,
    pub classe_a: i64,
    pub classe_b: i64,
    pub math: i64,
    pub francais: i64,
    pub teacher: TestUser,
    pub enseignant_id: i64,
    /// Pupils of class A (the teacher's class for MATH).
    pub a: Vec<Pupil>,
    /// Pupils of class B (not the teacher's).
    pub b: Vec<Pupil>,
}

async fn pupil(app: &TestApp, classe: i64, n: usize, tag: &str) -> Pupil {
    let mut conn = app.conn().await;
    let user = app
        .user()
        .role(Role::Eleve)
        .names("Aissatou", &format!("Camara{tag}{n}"))
        .create()
        .await;
    let parent = app
        .user()
        .role(Role::Parent)
        .names("Mamadou", &format!("Camara{tag}{n}"))
        .telephone("+224621000001")
        .create()
        .await;
    let id: i64 = diesel::insert_into(eleves::table)
        .values((
            eleves::user_id.eq(user.id()),
            eleves::matricule.eq(format!("2026/{tag}{n:03}")),
            eleves::classe_actuelle_id.eq(classe),
            eleves::sexe.eq(if n.is_multiple_of(2) { "F" } else { "M" }),
            eleves::date_admission.eq(date(2025, 9, 1)),
        ))
        .returning(eleves::id)
        .get_result(&mut conn)
        .await
        .unwrap_or_default();
    let parent_id: i64 = diesel::insert_into(parents::table)
        .values(parents::user_id.eq(parent.id()))
        .returning(parents::id)
        .get_result(&mut conn)
        .await
        .unwrap_or_default();
    let _ = diesel::insert_into(eleve_parents::table)
        .values((
            eleve_parents::eleve_id.eq(id),
            eleve_parents::parent_id.eq(parent_id),
            eleve_parents::lien.eq("MERE"),
        ))
        .execute(&mut conn)
        .await;
    Pupil {
        id,
        user,
        parent,
        parent_id,
    }
}

impl School {
    /// Extends the active year to today when it ended before: attendance is taken only
    /// inside the active year, and absence SMS go for today's and yesterday's absences only.
    pub async fn jusqu_a_aujourdhui(&self, app: &TestApp) {
        let mut conn = app.conn().await;
        let today = ecole_core::time::today();
        let _ = diesel::update(
            annees_scolaires::table
                .find(self.annee)
                .filter(annees_scolaires::date_fin.lt(today)),
        )
        .set(annees_scolaires::date_fin.eq(today))
        .execute(&mut conn)
        .await;
    }

    /// `per_class` pupils in each of two classes of the active 2025-2026 year.
    pub async fn create(app: &TestApp, per_class: usize) -> School {
        let mut conn = app.conn().await;
        let annee: i64 = diesel::insert_into(annees_scolaires::table)
            .values((
                annees_scolaires::nom.eq("2025-2026"),
                annees_scolaires::date_debut.eq(date(2025, 9, 1)),
                annees_scolaires::date_fin.eq(date(2026, 7, 15)),
                annees_scolaires::est_active.eq(true),
            ))
            .returning(annees_scolaires::id)
            .get_result(&mut conn)
            .await
            .unwrap_or_default();
        for (code, a, b) in [
            ("TRIMESTRE_1", date(2025, 9, 1), date(2025, 12, 20)),
            ("TRIMESTRE_2", date(2026, 1, 5), date(2026, 3, 31)),
            ("TRIMESTRE_3", date(2026, 4, 6), date(2026, 7, 15)),
        ] {
            let _ = diesel::insert_into(periodes::table)
                .values((
                    periodes::annee_scolaire_id.eq(annee),
                    periodes::code.eq(code),
                    periodes::date_debut.eq(a),
                    periodes::date_fin.eq(b),
                ))
                .execute(&mut conn)
                .await;
        }
        let mut class_ids = Vec::new();
        for nom in ["6ème A", "6ème B"] {
            class_ids.push(
                diesel::insert_into(classes::table)
                    .values((
                        classes::niveau.eq("SIXIEME"),
                        classes::nom.eq(nom),
                        classes::annee_scolaire_id.eq(annee),
                    ))
                    .returning(classes::id)
                    .get_result::<i64>(&mut conn)
                    .await
                    .unwrap_or_default(),
            );
        }
        let mut subject_ids = Vec::new();
        for (code, nom, coef) in [("MATH", "Mathématiques", 4), ("FRANCAIS", "Français", 3)] {
            subject_ids.push(
                diesel::insert_into(matieres::table)
                    .values((
                        matieres::code.eq(code),
                        matieres::nom.eq(nom),
                        matieres::coefficient.eq(coef),
                    ))
                    .returning(matieres::id)
                    .get_result::<i64>(&mut conn)
                    .await
                    .unwrap_or_default(),
            );
        }
        let teacher = app
            .user()
            .role(Role::Enseignant)
            .names("Alpha", "Condé")
            .create()
            .await;
        let enseignant_id: i64 = diesel::insert_into(enseignants::table)
            .values((
                enseignants::user_id.eq(teacher.id()),
                enseignants::matricule.eq("ENS-001"),
            ))
            .returning(enseignants::id)
            .get_result(&mut conn)
            .await
            .unwrap_or_default();
        let _ = diesel::insert_into(enseignements::table)
            .values((
                enseignements::classe_id.eq(class_ids[0]),
                enseignements::matiere_id.eq(subject_ids[0]),
                enseignements::enseignant_id.eq(enseignant_id),
            ))
            .execute(&mut conn)
            .await;
        let mut a = Vec::new();
        let mut b = Vec::new();
        for n in 0..per_class {
            a.push(pupil(app, class_ids[0], n, "A").await);
            b.push(pupil(app, class_ids[1], n, "B").await);
        }
        School {
            annee,
            classe_a: class_ids[0],
            classe_b: class_ids[1],
            math: subject_ids[0],
            francais: subject_ids[1],
            teacher,
            enseignant_id,
            a,
            b,
        }
    }
}
