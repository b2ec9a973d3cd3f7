//! The PostgreSQL store's schema, versioned in the repository: numbered SQL
//! files in `migrations/`, embedded in the binary and applied at start.
//!
//! All pending migrations run in one transaction that first takes a
//! transaction-scoped advisory lock keyed by the schema, so nodes starting
//! together on an empty database queue behind each other: the first applies,
//! the others find it done. Each applied version is recorded in
//! `digital_id_schema_migrations` (version, name, applied_at). A database
//! at a version newer than this binary knows is refused: an older node must
//! not write to tables it does not understand.
//!
//! A new migration is a new file and a new line in [`MIGRATIONS`]; an
//! applied one is never edited. Statements that cannot run inside a
//! transaction (`CREATE INDEX CONCURRENTLY`) do not belong here.

use tokio_postgres::Client;

use super::setup::describe;

/// One step of the schema.
#[derive(Debug)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order; versions count up from 1 without gaps.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "entries",
    sql: include_str!("migrations/0001_entries.sql"),
}];

/// The newest version this binary knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database schema is at version {database}, newer than this binary knows ({known}): \
         run a digital-id release that knows it"
    )]
    Newer { database: i32, known: i32 },
    #[error("migration {version} ({name}) failed: {reason}")]
    Failed {
        version: i32,
        name: &'static str,
        reason: String,
    },
    #[error("cannot read or record the schema version: {0}")]
    Bookkeeping(String),
}

fn bookkeeping(e: tokio_postgres::Error) -> MigrateError {
    MigrateError::Bookkeeping(describe(&e))
}

/// Serializes migrations of one schema across nodes: the key is derived
/// from the schema the tables are created in.
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended(\
     'digital-id schema migrations ' || coalesce(current_schema(), ''), 0))";

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS digital_id_schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";

/// Brings the schema `client` works in up to [`latest`]; returns the
/// migrations applied now (none when another node, or an earlier start,
/// already did).
pub async fn migrate(client: &mut Client) -> Result<Vec<&'static Migration>, MigrateError> {
    let tx = client.transaction().await.map_err(bookkeeping)?;
    // A large migration, or waiting for another node's, may take longer
    // than the pool's per-statement limit; only this transaction is exempt.
    tx.batch_execute("SET LOCAL statement_timeout = 0")
        .await
        .map_err(bookkeeping)?;
    tx.execute(LOCK, &[]).await.map_err(bookkeeping)?;
    tx.batch_execute(CREATE_TABLE).await.map_err(bookkeeping)?;
    let applied: Vec<i32> = tx
        .query(
            "SELECT version FROM digital_id_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(bookkeeping)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(&database) = applied.last() {
        if database > latest() {
            return Err(MigrateError::Newer {
                database,
                known: latest(),
            });
        }
    }
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        tx.batch_execute(m.sql)
            .await
            .map_err(|e| MigrateError::Failed {
                version: m.version,
                name: m.name,
                reason: describe(&e),
            })?;
        tx.execute(
            "INSERT INTO digital_id_schema_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await
        .map_err(bookkeeping)?;
        done.push(m);
    }
    tx.commit().await.map_err(bookkeeping)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{TestSchema, block_on};
    use super::*;

    #[test]
    fn versions_count_up_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.name);
            assert!(!m.sql.trim().is_empty());
        }
    }

    fn run(schema: &TestSchema) -> Result<Vec<&'static Migration>, MigrateError> {
        block_on(async { migrate(&mut schema.client().await).await })
    }

    fn versions(schema: &TestSchema) -> Vec<(i32, String)> {
        schema
            .query(&format!(
                "SELECT version, name FROM {}.digital_id_schema_migrations ORDER BY version",
                schema.name
            ))
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    #[test]
    fn applies_once_and_records_each_version() {
        let schema = TestSchema::new();
        let all: Vec<(i32, String)> = MIGRATIONS
            .iter()
            .map(|m| (m.version, m.name.to_owned()))
            .collect();
        let first = run(&schema).unwrap();
        assert_eq!(first.len(), MIGRATIONS.len());
        assert_eq!(versions(&schema), all);
        let again = run(&schema).unwrap();
        assert!(again.is_empty());
        assert_eq!(versions(&schema), all);
    }

    /// A database of the days before migrations were recorded (the table
    /// and its rows, no bookkeeping) adopts version 1 and keeps its rows.
    #[test]
    fn an_unrecorded_database_adopts_version_1() {
        let schema = TestSchema::new();
        schema.execute(&format!(
            "SET search_path = {s}; {ddl}; INSERT INTO digital_id_entries VALUES ('ns', 'k', 'v', NULL)",
            s = schema.name,
            ddl = MIGRATIONS[0].sql
        ));
        run(&schema).unwrap();
        assert_eq!(versions(&schema)[0], (1, "entries".to_owned()));
        let rows = schema.query(&format!(
            "SELECT count(*) FROM {}.digital_id_entries",
            schema.name
        ));
        assert_eq!(rows[0].get::<_, i64>(0), 1);
    }

    #[test]
    fn a_newer_database_is_refused() {
        let schema = TestSchema::new();
        run(&schema).unwrap();
        schema.execute(&format!(
            "INSERT INTO {}.digital_id_schema_migrations (version, name) VALUES ({}, 'future')",
            schema.name,
            latest() + 1
        ));
        let e = run(&schema).unwrap_err();
        assert!(
            matches!(e, MigrateError::Newer { database, known } if database == latest() + 1 && known == latest()),
            "{e}"
        );
    }
}
