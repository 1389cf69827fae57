//! Per-table row counts (and content checksums) of the `public` schema, in one statement:
//! table names come from the catalog and are quoted by PostgreSQL itself (`format('%I')`),
//! never spliced into SQL by us.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::OpsResult;

/// One table: its rows, and optionally an MD5 of its sorted rows' text.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName, Serialize)]
pub struct Table {
    #[diesel(sql_type = Text)]
    pub nom: String,
    #[diesel(sql_type = BigInt)]
    pub lignes: i64,
    #[diesel(sql_type = Text)]
    pub somme: String,
}

const COMPTES: &str = "\
SELECT c.relname::text AS nom,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint AS lignes,
       ''::text AS somme
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname";

const SOMMES: &str = "\
SELECT c.relname::text AS nom,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint AS lignes,
       (xpath('/row/h/text()', query_to_xml(format('SELECT md5(coalesce(string_agg(t::text, %L ORDER BY t::text), %L)) AS h FROM %I.%I t', E'\\n', '', n.nspname, c.relname), false, true, '')))[1]::text AS somme
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname";

/// Row counts of every table (`somme` left empty).
pub async fn comptes(conn: &mut AsyncPgConnection) -> OpsResult<Vec<Table>> {
    Ok(diesel::sql_query(COMPTES).load(conn).await?)
}

/// Row counts and content checksums of every table (reads every row: for checks and tests).
pub async fn sommes(conn: &mut AsyncPgConnection) -> OpsResult<Vec<Table>> {
    Ok(diesel::sql_query(SOMMES).load(conn).await?)
}
