//! Enums stored as `TEXT` with a `CHECK` constraint, serialised as their SQL text.

/// Declares an enum stored as checked text: diesel `ToSql`/`FromSql`, serde, OpenAPI schema,
/// `as_str`, `FromStr`, `Display` and the list of values.
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
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
    /// What a user may do (SPEC §1).
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
