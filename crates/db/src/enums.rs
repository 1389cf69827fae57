//! Enums stored as `TEXT` with a `CHECK` constraint, serialised as their SQL text.

/// Declares an enum stored as checked text: diesel `ToSql`/`FromSql`, serde, OpenAPI schema,
/// `as_str`, `FromStr`, `Display` and the list of values.
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($variant:ident => $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            diesel::AsExpression, diesel::FromSqlRow,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The accepted values, for error messages.
            pub fn choices() -> String {
                [$($text),+].join(", ")
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "« {other} » n'est pas un choix valide (choix possibles : {}).",
                        $name::choices()
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $name {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    diesel::pg::Pg,
                >>::from_sql(bytes)?;
                text.parse::<$name>().map_err(|e| e.into())
            }
        }
    };
}

text_enum! {
    /// What a user may do (docs/SPEC.md §1).
    pub enum Role {
        Admin => "ADMIN",
        Direction => "DIRECTION",
        Enseignant => "ENSEIGNANT",
        Comptable => "COMPTABLE",
        Bibliothecaire => "BIBLIOTHECAIRE",
        Parent => "PARENT",
        Eleve => "ELEVE",
    }
}

impl Role {
    /// Staff roles see school-wide data; families see only their own.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Parent | Role::Eleve)
    }

    /// ADMIN and DIRECTION run the school.
    pub fn is_management(self) -> bool {
        matches!(self, Role::Admin | Role::Direction)
    }
}

text_enum! {
    /// Guinea's school levels (primaire, collège, lycée) and the seed's `SIXIEME`.
    pub enum Niveau {
        Cp1 => "CP1",
        Cp2 => "CP2",
        Ce1 => "CE1",
        Ce2 => "CE2",
        Cm1 => "CM1",
        Cm2 => "CM2",
        Sixieme => "SIXIEME",
        Septieme => "SEPTIEME",
        Huitieme => "HUITIEME",
        Neuvieme => "NEUVIEME",
        Dixieme => "DIXIEME",
        Onzieme => "ONZIEME",
        Douzieme => "DOUZIEME",
        Terminale => "TERMINALE",
    }
}

impl Niveau {
    /// Primary classes grade out of 10 by default.
    pub fn is_primaire(self) -> bool {
        matches!(
            self,
            Niveau::Cp1 | Niveau::Cp2 | Niveau::Ce1 | Niveau::Ce2 | Niveau::Cm1 | Niveau::Cm2
        )
    }
}

text_enum! {
    /// Terminale series.
    pub enum Serie {
        Sm => "SM",
        Se => "SE",
        Ss => "SS",
    }
}

text_enum! {
    /// A period of the school year: three trimesters or two semesters.
    pub enum CodePeriode {
        Trimestre1 => "TRIMESTRE_1",
        Trimestre2 => "TRIMESTRE_2",
        Trimestre3 => "TRIMESTRE_3",
        Semestre1 => "SEMESTRE_1",
        Semestre2 => "SEMESTRE_2",
    }
}

impl CodePeriode {
    pub fn is_trimestre(self) -> bool {
        matches!(
            self,
            CodePeriode::Trimestre1 | CodePeriode::Trimestre2 | CodePeriode::Trimestre3
        )
    }

    /// The periods of a year divided as this one is (three trimesters or two semesters), in
    /// order.
    pub fn periodes_de_l_annee(self) -> &'static [CodePeriode] {
        if self.is_trimestre() {
            &[
                CodePeriode::Trimestre1,
                CodePeriode::Trimestre2,
                CodePeriode::Trimestre3,
            ]
        } else {
            &[CodePeriode::Semestre1, CodePeriode::Semestre2]
        }
    }

    /// The year's last period (3rd trimester, 2nd semester): its bulletin carries the annual
    /// result.
    pub fn derniere(self) -> CodePeriode {
        if self.is_trimestre() {
            CodePeriode::Trimestre3
        } else {
            CodePeriode::Semestre2
        }
    }

    pub fn est_derniere(self) -> bool {
        self == self.derniere()
    }

    /// `1er trimestre`, `2e semestre`…
    pub fn libelle(self) -> &'static str {
        match self {
            CodePeriode::Trimestre1 => "1er trimestre",
            CodePeriode::Trimestre2 => "2e trimestre",
            CodePeriode::Trimestre3 => "3e trimestre",
            CodePeriode::Semestre1 => "1er semestre",
            CodePeriode::Semestre2 => "2e semestre",
        }
    }
}

text_enum! {
    pub enum TypeNote {
        Interrogation => "INTERROGATION",
        Devoir => "DEVOIR",
        Composition => "COMPOSITION",
    }
}

text_enum! {
    pub enum StatutPresence {
        Present => "PRESENT",
        Absent => "ABSENT",
        Retard => "RETARD",
        Excuse => "EXCUSE",
    }
}

text_enum! {
    pub enum StatutEleve {
        Actif => "ACTIF",
        Transfere => "TRANSFERE",
        Diplome => "DIPLOME",
        Exclu => "EXCLU",
    }
}

text_enum! {
    pub enum Sexe {
        M => "M",
        F => "F",
    }
}

text_enum! {
    /// How a parent is related to a pupil.
    pub enum Lien {
        Pere => "PERE",
        Mere => "MERE",
        Tuteur => "TUTEUR",
        Autre => "AUTRE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), *role);
            assert_eq!(
                serde_json::to_string(role).unwrap(),
                format!("\"{}\"", role.as_str())
            );
        }
        assert!("admin".parse::<Role>().is_err());
    }
}

text_enum! {
    /// Where a report card stands: computed, rendered, visible to the family.
    pub enum StatutBulletin {
        Calcule => "CALCULE",
        PdfGenere => "PDF_GENERE",
        Publie => "PUBLIE",
    }
}

text_enum! {
    /// The class council's distinction or sanction for a pupil and period.
    pub enum Distinction {
        Felicitations => "FELICITATIONS",
        Encouragements => "ENCOURAGEMENTS",
        TableauHonneur => "TABLEAU_HONNEUR",
        AvertissementTravail => "AVERTISSEMENT_TRAVAIL",
        AvertissementConduite => "AVERTISSEMENT_CONDUITE",
        Blame => "BLAME",
    }
}

impl Distinction {
    /// As printed on the bulletin.
    pub fn libelle(self) -> &'static str {
        match self {
            Distinction::Felicitations => "Félicitations",
            Distinction::Encouragements => "Encouragements",
            Distinction::TableauHonneur => "Tableau d'honneur",
            Distinction::AvertissementTravail => "Avertissement (travail)",
            Distinction::AvertissementConduite => "Avertissement (conduite)",
            Distinction::Blame => "Blâme",
        }
    }
}

text_enum! {
    /// The year's decision the class council records on the last period.
    pub enum DecisionConseil {
        Admis => "ADMIS",
        Redouble => "REDOUBLE",
        Exclu => "EXCLU",
    }
}

impl DecisionConseil {
    /// As printed on the bulletin.
    pub fn libelle(self) -> &'static str {
        match self {
            DecisionConseil::Admis => "Admis(e)",
            DecisionConseil::Redouble => "Redouble",
            DecisionConseil::Exclu => "Exclu(e)",
        }
    }
}

text_enum! {
    /// What a notification is about (docs/SPEC.md §2).
    pub enum TypeNotification {
        Bulletin => "BULLETIN",
        Absence => "ABSENCE",
        Retard => "RETARD",
        RappelPaiement => "RAPPEL_PAIEMENT",
        PaiementRecu => "PAIEMENT_RECU",
        EmpruntRetard => "EMPRUNT_RETARD",
        General => "GENERAL",
    }
}

text_enum! {
    /// Where one channel (e-mail or SMS) of a notification stands; see the migration.
    pub enum StatutEnvoi {
        NonDemande => "NON_DEMANDE",
        EnAttente => "EN_ATTENTE",
        EnCours => "EN_COURS",
        Envoye => "ENVOYE",
        Ignore => "IGNORE",
        Echec => "ECHEC",
        Incertain => "INCERTAIN",
    }
}

text_enum! {
    /// Where an invoice stands (docs/SPEC.md §2): a draft has no number; paid money forbids cancelling.
    pub enum StatutFacture {
        Brouillon => "BROUILLON",
        Emise => "EMISE",
        PartiellementPayee => "PARTIELLEMENT_PAYEE",
        Payee => "PAYEE",
        Annulee => "ANNULEE",
    }
}

impl StatutFacture {
    /// Issued and not fully paid: money may still come in.
    pub fn accepte_paiement(self) -> bool {
        matches!(
            self,
            StatutFacture::Emise | StatutFacture::PartiellementPayee
        )
    }

    /// `émise`, `partiellement payée`…, for sentences.
    pub fn libelle(self) -> &'static str {
        match self {
            StatutFacture::Brouillon => "brouillon",
            StatutFacture::Emise => "émise",
            StatutFacture::PartiellementPayee => "partiellement payée",
            StatutFacture::Payee => "payée",
            StatutFacture::Annulee => "annulée",
        }
    }
}

text_enum! {
    /// How a payment was made.
    pub enum ModePaiement {
        Especes => "ESPECES",
        OrangeMoney => "ORANGE_MONEY",
        MtnMomo => "MTN_MOMO",
        Virement => "VIREMENT",
        Cheque => "CHEQUE",
    }
}

impl ModePaiement {
    /// As printed on a receipt.
    pub fn libelle(self) -> &'static str {
        match self {
            ModePaiement::Especes => "Espèces",
            ModePaiement::OrangeMoney => "Orange Money",
            ModePaiement::MtnMomo => "MTN Mobile Money",
            ModePaiement::Virement => "Virement bancaire",
            ModePaiement::Cheque => "Chèque",
        }
    }

    /// Every mode but cash leaves a trace at an operator or a bank: its reference is required.
    pub fn exige_reference(self) -> bool {
        !matches!(self, ModePaiement::Especes)
    }
}

text_enum! {
    /// The physical state of a library copy; a `PERDU` copy is never lent again.
    pub enum EtatExemplaire {
        Bon => "BON",
        Abime => "ABIME",
        Perdu => "PERDU",
    }
}

text_enum! {
    /// Where a loan stands: open, returned, or closed because the copy was lost.
    pub enum StatutEmprunt {
        EnCours => "EN_COURS",
        Rendu => "RENDU",
        Perdu => "PERDU",
    }
}
