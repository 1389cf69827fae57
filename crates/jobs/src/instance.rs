//! Which database this is, among those sharing one Redis.
//!
//! `ecole migrate` gives the database a random instance id (table `instance`), and `ecole
//! restore` a new one. The jobs' Redis namespace is `<REDIS_PREFIX>:<instance>`: two databases,
//! or a database and its restored past, never share task ids or idempotency keys. A worker
//! claims its namespace for its database (key `<namespace>:proprietaire`) and refuses to start
//! when another database holds it (a copy of this one made outside `ecole restore`).

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_db::schema::instance;
use redis::aio::ConnectionManager;
use uuid::Uuid;

/// A claim lives this long without a running worker to renew it.
pub const CLAIM_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The id of this database (the row is made when missing).
pub async fn instance_id(conn: &mut AsyncPgConnection) -> Result<Uuid, diesel::result::Error> {
    use diesel::QueryDsl;
    diesel::sql_query("INSERT INTO instance DEFAULT VALUES ON CONFLICT DO NOTHING")
        .execute(conn)
        .await?;
    instance::table.select(instance::id).first(conn).await
}

/// Gives the database a new instance id (after a restore): nothing Redis kept for the old one
/// can be taken for this database's jobs. Waiting rows are dispatched again at once, under new
/// task tokens. Returns (previous id, new id).
pub async fn renew(
    conn: &mut AsyncPgConnection,
) -> Result<(Option<Uuid>, Uuid), diesel::result::Error> {
    use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
    let previous = instance::table
        .select(instance::id)
        .first::<Uuid>(conn)
        .await
        .optional()?;
    diesel::sql_query("INSERT INTO instance DEFAULT VALUES ON CONFLICT DO NOTHING")
        .execute(conn)
        .await?;
    let new: Uuid = diesel::update(instance::table)
        .set((
            instance::restored_from.eq(previous),
            instance::id.eq(Uuid::new_v4()),
            instance::created_at.eq(chrono::Utc::now()),
        ))
        .returning(instance::id)
        .get_result(conn)
        .await?;
    diesel::sql_query(
        "UPDATE jobs SET dispatched_at = NULL, task_token = gen_random_uuid() \
         WHERE status = 'EN_ATTENTE'",
    )
    .execute(conn)
    .await?;
    Ok((previous, new))
}

#[derive(QueryableByName)]
struct Empreinte {
    #[diesel(sql_type = Text)]
    empreinte: String,
}

/// What tells this database from a copy of it: `<cluster system id>/<database oid>
/// <database name>` (a restart keeps it; a copy in another database or cluster does not).
pub async fn fingerprint(conn: &mut AsyncPgConnection) -> Result<String, diesel::result::Error> {
    let row: Empreinte = diesel::sql_query(
        "SELECT (SELECT system_identifier::text FROM pg_control_system()) || '/' || d.oid::text \
         || ' ' || d.datname AS empreinte FROM pg_database d WHERE d.datname = current_database()",
    )
    .get_result(conn)
    .await?;
    Ok(row.empreinte)
}

/// The jobs' Redis namespace of an instance: `<prefix>:<instance>`.
pub fn namespace(prefix: &str, instance: Uuid) -> String {
    format!("{prefix}:{}", instance.simple())
}

/// The namespace of the database behind `conn`.
pub async fn namespace_of(
    conn: &mut AsyncPgConnection,
    prefix: &str,
) -> Result<String, diesel::result::Error> {
    Ok(namespace(prefix, instance_id(conn).await?))
}

/// The key that names the database owning a namespace.
pub fn claim_key(namespace: &str) -> String {
    format!("{namespace}:proprietaire")
}

/// Takes the key when free, renews it when ours; returns who holds it.
const CLAIM: &str = r#"
local v = redis.call("GET", KEYS[1])
if not v then
  redis.call("SET", KEYS[1], ARGV[2], "EX", ARGV[3])
  return ARGV[2]
end
if string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. " " then
  redis.call("EXPIRE", KEYS[1], ARGV[3])
end
return v
"#;

/// The part of a fingerprint that identifies (the name is for people).
fn identity(fingerprint: &str) -> &str {
    fingerprint.split(' ').next().unwrap_or(fingerprint)
}

/// Why a namespace cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(
        "l'espace Redis des jobs « {namespace} » appartient à une autre base ({holder}) ; cette \
         base ({ours}) porte le même identifiant d'instance : c'est une copie faite hors de \
         `ecole restore`. Démarrer ici ferait exécuter les jobs d'une base par l'autre. \
         Donnez un REDIS_PREFIX différent à l'une des deux, ou, si l'autre base n'existe plus, \
         libérez l'espace : redis-cli DEL {key}"
    )]
    Taken {
        namespace: String,
        key: String,
        holder: String,
        ours: String,
    },
    #[error("Redis : {0}")]
    Redis(#[from] redis::RedisError),
}

/// Claims `namespace` for the database of `fingerprint` (or renews the claim).
pub async fn claim(
    redis: &mut ConnectionManager,
    namespace: &str,
    fingerprint: &str,
) -> Result<(), ClaimError> {
    let key = claim_key(namespace);
    let holder: String = redis::Script::new(CLAIM)
        .key(&key)
        .arg(identity(fingerprint))
        .arg(fingerprint)
        .arg(CLAIM_TTL.as_secs())
        .invoke_async(redis)
        .await?;
    if identity(&holder) == identity(fingerprint) {
        Ok(())
    } else {
        Err(ClaimError::Taken {
            namespace: namespace.to_string(),
            key,
            holder,
            ours: fingerprint.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_and_identity() {
        let id = Uuid::nil();
        assert_eq!(
            namespace("ecole", id),
            "ecole:00000000000000000000000000000000"
        );
        assert_eq!(identity("123/16384 ecole"), "123/16384");
        assert_eq!(identity("123/16384"), "123/16384");
    }
}
