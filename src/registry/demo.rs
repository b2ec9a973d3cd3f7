//! The demo registry: synthetic citizens loaded from `examples/registry/*.json`
//! (or any directory given with `--registry`), held in memory.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::Value;

use super::{Registry, RegistryError, Subject, SubjectId};
use crate::catalogue::schema;

/// Subjects by id.
#[derive(Debug, Clone, Default)]
pub struct DemoRegistry {
    subjects: BTreeMap<SubjectId, Subject>,
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
        let mut files: Vec<_> = fs::read_dir(dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        let mut subjects = Vec::new();
        for path in files {
            let text = fs::read_to_string(&path).map_err(|source| RegistryError::Io {
                path: path.clone(),
                source,
            })?;
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
        Ok(DemoRegistry { subjects })
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

    fn subjects(&self) -> Result<Vec<Subject>, RegistryError> {
        Ok(self.subjects.values().cloned().collect())
    }
}
