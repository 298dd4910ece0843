//! An area's connector definition, read from `connectors/<area>/connector.toml`: how that grid
//! operator is reached, as data, so that adding or moving an operator needs no code change.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::circuit::CircuitSettings;
use crate::domain::Area;
/// Re-exported: a definition names its family, which the connector and the simulator share.
pub use crate::wire::ProtocolFamily;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorDefinition {
    /// The area code this definition serves ("01".."10"); must match its folder.
    pub area: String,
    /// The grid operator's name, for logs and docs.
    pub operator: String,
    pub protocol: ProtocolFamily,
    /// The operator's endpoint URL (`file://<folder>` for the batch family).
    pub endpoint: String,
    /// How long one call may take before it counts as a transient failure.
    pub timeout_ms: u64,
    /// Batch family: the most requests in one file (default 50).
    #[serde(default)]
    pub batch_max: Option<usize>,
    /// Batch family: how long a batch waits for more requests before it is written (default
    /// 200 ms).
    #[serde(default)]
    pub batch_wait_ms: Option<u64>,
    /// How often an application the operator holds (a switch awaiting its counterpart) is asked
    /// about again (default 500 ms).
    #[serde(default)]
    pub poll_interval_ms: Option<u64>,
    /// How many calls to this operator may be in flight at once (default: the setting
    /// `connector_lanes`, and for the batch family at least four files' worth, `4 × batch_max`).
    #[serde(default)]
    pub lanes: Option<usize>,
    pub retry: RetryBudget,
    /// When to stop calling an operator that keeps failing (see [`CircuitSettings`]).
    #[serde(default)]
    pub circuit: CircuitSettings,
}

/// Exponential backoff with full jitter, bounded by attempts.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryBudget {
    /// Calls in all, the first included, before the request goes to the dead-letter topic.
    pub max_attempts: usize,
    pub initial_delay_ms: u64,
    pub max_delay_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("{path}: area {found} does not match the folder {expected}")]
    WrongArea {
        path: String,
        found: String,
        expected: String,
    },
}

impl ConnectorDefinition {
    pub fn load(dir: &Path, area: Area) -> Result<Self, DefinitionError> {
        let path = dir.join(area.code()).join("connector.toml");
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| DefinitionError::Read {
            path: shown.clone(),
            source,
        })?;
        let def: ConnectorDefinition =
            toml::from_str(&text).map_err(|source| DefinitionError::Parse {
                path: shown.clone(),
                source,
            })?;
        if def.area != area.code() {
            return Err(DefinitionError::WrongArea {
                path: shown,
                found: def.area,
                expected: area.code().into(),
            });
        }
        Ok(def)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Batch family: the most requests in one file.
    pub fn batch_max(&self) -> usize {
        self.batch_max.unwrap_or(50)
    }

    /// Batch family: how long a batch waits for more requests.
    pub fn batch_wait(&self) -> Duration {
        Duration::from_millis(self.batch_wait_ms.unwrap_or(200))
    }

    /// How many calls may be in flight at once; `default` is the setting `connector_lanes`.
    /// A batch-family call waits for its whole file's round trip (the batch wait, then the
    /// operator's answer file), so one area's lanes must cover the requests that arrive over
    /// several such trips, or they queue behind each other; four files' worth does.
    pub fn lanes(&self, default: usize) -> usize {
        match (self.lanes, self.protocol) {
            (Some(lanes), _) => lanes,
            (None, ProtocolFamily::Batch) => default.max(4 * self.batch_max()),
            (None, _) => default,
        }
        .max(1)
    }

    /// How often a held application is asked about again.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.unwrap_or(500))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_definition_loads_and_names_its_own_area() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors");
        for area in Area::ALL {
            let def = ConnectorDefinition::load(&dir, area).unwrap();
            assert_eq!(def.operator, area.operator_ja());
            assert!(def.retry.max_attempts >= 1);
        }
    }

    #[test]
    fn a_batch_area_has_lanes_for_four_files_and_an_explicit_number_wins() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors");
        let batch = ConnectorDefinition::load(&dir, Area::Hokuriku).unwrap();
        assert_eq!(batch.lanes(32), 4 * batch.batch_max());
        let soap = ConnectorDefinition::load(&dir, Area::Tokyo).unwrap();
        assert_eq!(soap.lanes(32), 32);
        let pinned = ConnectorDefinition {
            lanes: Some(3),
            ..batch
        };
        assert_eq!(pinned.lanes(32), 3);
    }

    #[test]
    fn areas_04_and_09_speak_json_05_and_10_batch_and_the_others_soap() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("connectors");
        for area in Area::ALL {
            let def = ConnectorDefinition::load(&dir, area).unwrap();
            let expected = match area {
                Area::Chubu | Area::Kyushu => ProtocolFamily::Json,
                Area::Hokuriku | Area::Okinawa => ProtocolFamily::Batch,
                _ => ProtocolFamily::Soap,
            };
            assert_eq!(def.protocol, expected, "area {}", area.code());
            if expected == ProtocolFamily::Batch {
                assert!(def.endpoint.starts_with("file://"), "{}", def.endpoint);
                assert!(def.endpoint.ends_with(area.code()), "{}", def.endpoint);
            } else {
                let path = format!("/{}", expected.name());
                assert!(def.endpoint.ends_with(&path), "{}", def.endpoint);
            }
        }
    }
}
