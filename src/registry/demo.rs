//! The demo registry: synthetic citizens from `examples/registry/*.json`
//! (embedded in the binary at build time) or from any directory given with
//! `--registry`, held in memory.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use time::Date;

use super::{IssueRefusal, Registry, RegistryError, Subject, SubjectId};
use crate::catalogue::{Issuable, schema};
use crate::store::{Store, from_bytes, to_bytes};

include!(concat!(env!("OUT_DIR"), "/registry_seed.rs"));

/// How error messages name the embedded seed files.
const EMBEDDED_DIR: &str = "<embedded>/examples/registry";

/// Store namespace of the demo registry's subject records.
pub const STORE_NS: &str = "registry";

/// Subjects by id.
#[derive(Debug, Clone, Default)]
pub struct DemoRegistry {
    subjects: BTreeMap<SubjectId, Subject>,
    issuable: IssuableCache,
}

/// What each holder may receive today: the records never change while the
/// server runs, so validation and claim building run once per holder,
/// document type and day instead of once per credential request.
#[derive(Clone, Default)]
struct IssuableCache(Arc<Mutex<DayCache>>);

/// The day the answers hold for, and the answers by (holder, document type).
type DayCache = (Option<Date>, HashMap<(SubjectId, String), Arc<[Issuable]>>);

impl std::fmt::Debug for IssuableCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuableCache")
    }
}

impl IssuableCache {
    fn get_or_build(
        &self,
        holder: &SubjectId,
        document_id: &str,
        today: Date,
        build: impl FnOnce() -> Result<Vec<Issuable>, IssueRefusal>,
    ) -> Result<Arc<[Issuable]>, IssueRefusal> {
        let key = (holder.clone(), document_id.to_owned());
        {
            let cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if cache.0 == Some(today) {
                if let Some(hit) = cache.1.get(&key) {
                    return Ok(hit.clone());
                }
            }
        }
        // Built outside the lock; refusals are not remembered.
        let built: Arc<[Issuable]> = build()?.into();
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if cache.0 != Some(today) {
            *cache = (Some(today), HashMap::new());
        }
        cache.1.insert(key, built.clone());
        Ok(built)
    }
}

impl DemoRegistry {
    /// Loads every `*.json` file of `dir` (in name order); a file holds one
    /// subject object or an array of them. Each subject must match
    /// `schemas/subject.json`; document formats are *not* checked here, so a
    /// deliberately invalid record loads and is refused at issuance.
    pub fn load(dir: &Path) -> Result<Self, RegistryError> {
        let io = |source| RegistryError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<_> = fs::read_dir(dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
        paths.sort();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let text = fs::read_to_string(&path).map_err(|source| RegistryError::Io {
                path: path.clone(),
                source,
            })?;
            files.push((path, text));
        }
        Self::parse(files)
    }

    /// The demo registry shipped inside the binary (`examples/registry` at
    /// build time), so the server runs from any directory.
    pub fn embedded() -> Result<Self, RegistryError> {
        Self::parse(
            EMBEDDED
                .iter()
                .map(|(name, text)| (Path::new(EMBEDDED_DIR).join(name), text.to_string())),
        )
    }

    /// Subjects from `(path, JSON text)` pairs, as [`DemoRegistry::load`] reads them.
    fn parse(
        files: impl IntoIterator<Item = (std::path::PathBuf, String)>,
    ) -> Result<Self, RegistryError> {
        let mut subjects = Vec::new();
        for (path, text) in files {
            let json: Value =
                serde_json::from_str(&text).map_err(|source| RegistryError::Json {
                    path: path.clone(),
                    source,
                })?;
            let items = match json {
                Value::Array(items) => items,
                one => vec![one],
            };
            for item in items {
                schema::validate_subject(&item).map_err(|error| RegistryError::Schema {
                    path: path.clone(),
                    error,
                })?;
                let s: Subject =
                    serde_json::from_value(item).map_err(|source| RegistryError::Json {
                        path: path.clone(),
                        source,
                    })?;
                subjects.push(s);
            }
        }
        Self::from_subjects(subjects)
    }

    /// A registry of these subjects; ids must be unique and children known.
    pub fn from_subjects(list: Vec<Subject>) -> Result<Self, RegistryError> {
        let mut subjects = BTreeMap::new();
        for s in list {
            if subjects.contains_key(&s.id) {
                return Err(RegistryError::DuplicateId { id: s.id });
            }
            subjects.insert(s.id.clone(), s);
        }
        for s in subjects.values() {
            if let Some(child) = s.children.iter().find(|c| !subjects.contains_key(*c)) {
                return Err(RegistryError::UnknownChild {
                    parent: s.id.clone(),
                    child: child.clone(),
                });
            }
        }
        Ok(DemoRegistry {
            subjects,
            issuable: IssuableCache::default(),
        })
    }

    /// Writes every subject of `fresh` into the store, replacing the records
    /// there (subjects missing from `fresh` are removed). Returns how many.
    pub async fn seed_store(
        store: &dyn Store,
        fresh: &DemoRegistry,
        now: i64,
    ) -> Result<usize, RegistryError> {
        let old = store.scan(STORE_NS, String::new(), now, usize::MAX).await?;
        for e in old
            .iter()
            .filter(|e| !fresh.subjects.contains_key(&SubjectId(e.key.clone())))
        {
            store.delete(STORE_NS, e.key.clone()).await?;
        }
        for s in fresh.subjects.values() {
            store
                .put(STORE_NS, s.id.0.clone(), to_bytes(s)?, None)
                .await?;
        }
        Ok(fresh.len())
    }

    /// The registry as stored (see [`DemoRegistry::seed_store`]).
    pub async fn from_store(store: &dyn Store, now: i64) -> Result<Self, RegistryError> {
        let entries = store.scan(STORE_NS, String::new(), now, usize::MAX).await?;
        let subjects = entries
            .iter()
            .map(|e| from_bytes::<Subject>(&e.value))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_subjects(subjects)
    }

    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }
}

impl Registry for DemoRegistry {
    fn subject(&self, id: &SubjectId) -> Result<Option<Subject>, RegistryError> {
        Ok(self.subjects.get(id).cloned())
    }

    fn issuable(
        &self,
        holder: &SubjectId,
        document_id: &str,
        today: Date,
    ) -> Result<Arc<[Issuable]>, IssueRefusal> {
        self.issuable.get_or_build(holder, document_id, today, || {
            super::issuable(self, holder, document_id, today)
        })
    }

    fn subjects(&self) -> Result<Vec<Subject>, RegistryError> {
        Ok(self.subjects.values().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;
    use crate::registry::IdentityProofing;

    fn seed_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/registry")
    }

    #[test]
    fn the_embedded_registry_is_examples_registry() {
        let embedded = DemoRegistry::embedded().unwrap();
        let on_disk = DemoRegistry::load(&seed_dir()).unwrap();
        assert_eq!(embedded.len(), on_disk.len());
        let ids = |r: &DemoRegistry| -> Vec<SubjectId> {
            r.subjects().unwrap().into_iter().map(|s| s.id).collect()
        };
        assert_eq!(ids(&embedded), ids(&on_disk));
        assert_eq!(
            serde_json::to_value(embedded.subjects().unwrap()).unwrap(),
            serde_json::to_value(on_disk.subjects().unwrap()).unwrap()
        );
    }

    #[test]
    fn remembered_answers_equal_fresh_ones_and_follow_the_day() {
        use time::macros::date;
        let reg = DemoRegistry::load(&seed_dir()).unwrap();
        let holder = SubjectId("ivanov-ivan".into());
        for day in [date!(2026 - 11 - 25), date!(2026 - 11 - 26)] {
            let fresh = crate::registry::issuable(&reg, &holder, "ru.passport", day).unwrap();
            let first = reg.issuable(&holder, "ru.passport", day).unwrap();
            let again = reg.issuable(&holder, "ru.passport", day).unwrap();
            assert_eq!(&*first, fresh.as_slice());
            assert!(
                Arc::ptr_eq(&first, &again),
                "the second answer is remembered"
            );
        }
        // Refusals are answered each time, not remembered as success.
        let nobody = SubjectId("nobody".into());
        for _ in 0..2 {
            assert!(matches!(
                reg.issuable(&nobody, "ru.passport", date!(2026 - 11 - 25)),
                Err(IssueRefusal::UnknownSubject)
            ));
        }
    }

    #[test]
    fn the_registry_lives_in_the_store_and_reseeding_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::redb::RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let n = DemoRegistry::seed_store(&store, &DemoRegistry::load(&seed_dir()).unwrap(), 0)
                .await
                .unwrap();
            let from_json = DemoRegistry::load(&seed_dir()).unwrap();
            let stored = DemoRegistry::from_store(&store, 0).await.unwrap();
            assert_eq!(n, from_json.len());
            assert_eq!(stored.subjects().unwrap(), from_json.subjects().unwrap());

            // A smaller seed directory removes the subjects it lacks.
            let small = tempfile::tempdir().unwrap();
            let one = std::fs::read_dir(seed_dir())
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            std::fs::copy(&one, small.path().join("one.json")).unwrap();
            let n = DemoRegistry::seed_store(&store, &DemoRegistry::load(small.path()).unwrap(), 0)
                .await
                .unwrap();
            assert_eq!(DemoRegistry::from_store(&store, 0).await.unwrap().len(), n);
        });
    }

    #[test]
    fn seed_loads_with_every_case() {
        let reg = DemoRegistry::load(&seed_dir()).unwrap();
        assert!(reg.len() >= 25, "{}", reg.len());
        let all = reg.subjects().unwrap();
        for p in [
            IdentityProofing::Biometric,
            IdentityProofing::NfcPassport,
            IdentityProofing::Bank,
            IdentityProofing::None,
        ] {
            assert!(all.iter().any(|s| s.identity_proofing == p), "{p:?}");
        }
        let ivanov = reg
            .subject(&SubjectId("ivanov-ivan".into()))
            .unwrap()
            .unwrap();
        let five = [
            "ru.driving_licence",
            "ru.inn",
            "ru.oms",
            "ru.passport",
            "ru.snils",
        ];
        assert_eq!(
            ivanov
                .documents
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            five
        );
        let kids = reg.children(&SubjectId("popova-maria".into())).unwrap();
        assert_eq!(kids.len(), 2);
        assert!(all.iter().any(|s| s.person.family_name.contains('-')));
    }

    #[test]
    fn every_seed_record_matches_its_schema() {
        let reg = DemoRegistry::load(&seed_dir()).unwrap();
        for s in reg.subjects().unwrap() {
            for (id, record) in &s.documents {
                let doc = catalogue::find(id)
                    .unwrap_or_else(|| panic!("{}: unknown document {id}", s.id));
                let result = schema::validate(doc, record);
                if s.id.0 == "grigoriev-oleg" && id == "ru.passport" {
                    assert_eq!(
                        result,
                        Err(catalogue::ValidationError::Schema {
                            field: "series".into(),
                            keyword: "pattern"
                        })
                    );
                } else {
                    assert_eq!(result, Ok(()), "{}/{id}", s.id);
                }
            }
        }
    }

    #[test]
    fn pension_status_from_the_record() {
        let reg = DemoRegistry::load(&seed_dir()).unwrap();
        let p = reg
            .pension_status(&SubjectId("smirnova-olga".into()))
            .unwrap()
            .unwrap();
        assert!(p.active);
        assert_eq!(p.pension_type, "old_age");
        assert_eq!(
            reg.pension_status(&SubjectId("ivanov-ivan".into()))
                .unwrap(),
            None
        );
    }

    #[test]
    fn loads_from_any_directory_and_rejects_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let one = fs::read_to_string(seed_dir().join("ivanov-ivan.json")).unwrap();
        fs::write(dir.path().join("a.json"), &one).unwrap();
        fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        assert_eq!(DemoRegistry::load(dir.path()).unwrap().len(), 1);

        fs::write(dir.path().join("b.json"), &one).unwrap();
        assert!(matches!(
            DemoRegistry::load(dir.path()),
            Err(RegistryError::DuplicateId { .. })
        ));
        fs::remove_file(dir.path().join("b.json")).unwrap();

        fs::write(dir.path().join("c.json"), r#"{"id": "x"}"#).unwrap();
        assert!(matches!(
            DemoRegistry::load(dir.path()),
            Err(RegistryError::Schema { .. })
        ));
        fs::write(dir.path().join("c.json"), "{not json").unwrap();
        assert!(matches!(
            DemoRegistry::load(dir.path()),
            Err(RegistryError::Json { .. })
        ));
    }
}
