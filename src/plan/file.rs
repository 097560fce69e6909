//! The on-disk shape of status.json, used to check types with exact positions.
//!
//! The document itself is kept as a `serde_json::Value` (see `Plan`) so unknown fields survive;
//! these structs only validate and extract the fields swarm reads.

use super::status::{Estimate, Priority, Progress, Status};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

/// The top level of status.json.
#[derive(Deserialize)]
#[serde(expecting = "a plan object: {\"tasks\": {...}}")]
pub(crate) struct PlanFile {
    pub tasks: NamedMap<TaskFile>,
    #[serde(default)]
    pub coordination: Option<CoordinationFile>,
    #[serde(default, rename = "joinPoints")]
    pub join_points: Option<NamedMap<JoinPointFile>>,
}

/// One task entry.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskFile {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub blocked_by: Option<Vec<String>>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub estimate: Option<Estimate>,
    #[serde(default)]
    pub progress: Option<Progress>,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub claimed: Option<bool>,
    #[serde(default)]
    pub attempts: Option<u32>,
}

/// `coordination`: pre-assigned agents.
#[derive(Deserialize)]
pub(crate) struct CoordinationFile {
    #[serde(default)]
    pub agents: Option<NamedMap<AgentSpecFile>>,
}

/// One pre-assigned agent.
#[derive(Deserialize)]
pub(crate) struct AgentSpecFile {
    #[serde(default)]
    pub worktree: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub tasks: Option<Vec<String>>,
}

/// One join point.
#[derive(Deserialize)]
pub(crate) struct JoinPointFile {
    pub requires: Vec<String>,
}

/// A JSON object of objects, read in order, that refuses empty and duplicate keys (serde_json
/// would keep the last duplicate silently).
pub(crate) struct NamedMap<T>(pub Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NamedMap<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NamedMapVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for NamedMapVisitor<T> {
            type Value = NamedMap<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object keyed by id")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut seen = HashSet::new();
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(key) = map.next_key::<String>()? {
                    if key.trim().is_empty() {
                        return Err(de::Error::custom("empty id: expected a non-empty key"));
                    }
                    if !seen.insert(key.clone()) {
                        return Err(de::Error::custom(format!("duplicate id {key:?}")));
                    }
                    let crate::json::ObjectOnly(value) = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(NamedMap(entries))
            }
        }
        d.deserialize_map(NamedMapVisitor(PhantomData))
    }
}
