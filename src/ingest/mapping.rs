//! Mapping files (`--mapping M.toml`) for exports whose layout the built-in aliases do not
//! cover. Validated in full before any row is read; errors name the file and the key.
//!
//! ```toml
//! kind = "hotline"            # optional; checked against the command's kind
//! [columns]                   # source header = canonical column ("-" to ignore a column)
//! "呼入时间" = "started_at"
//! "坐席" = "counselor_id"
//! [values.status]             # extra spellings of coded values
//! "已处理" = "answered"
//! ```

use crate::error::{Failure, FailureKind};
use crate::schema::{fold, ColType, Kind};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    kind: Option<Kind>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
}

/// A validated mapping for one kind.
#[derive(Debug, Default, Clone)]
pub struct Mapping {
    /// Folded source header → canonical column index, or `None` for an ignored column.
    columns: HashMap<String, Option<usize>>,
    /// Canonical column index → folded raw value → code.
    values: HashMap<usize, HashMap<String, &'static str>>,
}

impl Mapping {
    pub fn load(path: &Path, kind: Kind) -> Result<Mapping, Failure> {
        let fail = |msg: String| {
            Failure::new(
                FailureKind::Config,
                format!("mapping {}: {msg}", path.display()),
            )
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let file: MappingFile = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
        if let Some(k) = file.kind {
            if k != kind {
                return Err(fail(format!(
                    "kind = \"{k}\" but the command ingests {kind}"
                )));
            }
        }
        let names = || {
            kind.columns()
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut mapping = Mapping::default();
        for (header, target) in &file.columns {
            let target_index = if target == "-" {
                None
            } else {
                Some(kind.column_index(target).ok_or_else(|| {
                    fail(format!(
                        "[columns] \"{header}\" = \"{target}\": {kind} has no column '{target}' (columns: {})",
                        names()
                    ))
                })?)
            };
            mapping.columns.insert(fold(header), target_index);
        }
        for (column, table) in &file.values {
            let index = kind.column_index(column).ok_or_else(|| {
                fail(format!(
                    "[values.{column}]: {kind} has no column '{column}' (columns: {})",
                    names()
                ))
            })?;
            let ColType::Code(vocabulary) = kind.columns()[index].ty else {
                return Err(fail(format!(
                    "[values.{column}]: '{column}' is not a coded column; only coded columns take value mappings"
                )));
            };
            let entry = mapping.values.entry(index).or_default();
            for (raw, code) in table {
                let code = vocabulary
                    .codes
                    .iter()
                    .map(|(c, _)| *c)
                    .find(|c| c == code)
                    .ok_or_else(|| {
                        fail(format!(
                            "[values.{column}] \"{raw}\" = \"{code}\": not a {column} code (codes: {})",
                            vocabulary.code_list()
                        ))
                    })?;
                entry.insert(fold(raw), code);
            }
        }
        Ok(mapping)
    }

    /// The canonical column for a header: `Some(Some(i))` mapped, `Some(None)` ignored on
    /// purpose, `None` when the mapping says nothing about it.
    pub fn column(&self, header: &str) -> Option<Option<usize>> {
        self.columns.get(&fold(header)).copied()
    }

    /// A code for a raw value of a coded column, from the mapping's value table.
    pub fn value(&self, column: usize, raw: &str) -> Option<&'static str> {
        self.values.get(&column)?.get(&fold(raw)).copied()
    }
}
