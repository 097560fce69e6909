//! The on-disk shape of status.json, used to check types with exact positions.
//!
//! The document itself is kept as a `serde_json::Value` (see `Plan`) so unknown fields survive;
//! these structs only validate and extract the fields swarm reads.

use super::status::{CommandLine, Estimate, Priority, Progress, Status};
use crate::json::ObjectOnly;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

/// The top level of status.json, fully typed: parsed only to explain a plan the reader
/// (`PlanTop`) refused, with the field path and position of the mistake.
#[derive(Deserialize)]
#[allow(dead_code)] // read for its errors only
#[serde(expecting = "a plan object: {\"tasks\": {...}}")]
pub(crate) struct PlanFile<'a> {
    #[serde(borrow)]
    pub tasks: NamedMap<'a, TaskFile<'a, Cow<'a, str>>>,
    #[serde(default, borrow)]
    pub coordination: Option<ObjectOnly<CoordinationFile<'a>>>,
    #[serde(default, rename = "joinPoints", borrow)]
    pub join_points: Option<NamedMap<'a, JoinPointFile<'a>>>,
}

/// One task entry; `B` is how a `blockedBy` entry is read (as text, or raw to know where it
/// is written).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "B: Deserialize<'de>"))]
pub(crate) struct TaskFile<'a, B> {
    #[serde(default, borrow)]
    pub title: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub description: Option<Cow<'a, str>>,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub blocked_by: Option<Vec<B>>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub estimate: Option<Estimate>,
    #[serde(default)]
    pub progress: Option<Progress>,
    #[serde(default, borrow)]
    pub agent: Option<Cow<'a, str>>,
    #[serde(default)]
    pub claimed: Option<bool>,
    #[serde(default)]
    pub attempts: Option<u32>,
    #[serde(default)]
    pub verify: Option<CommandLine>,
    #[serde(default)]
    pub files: Option<Vec<String>>,
    #[serde(default)]
    pub landed: Option<IsObject>,
    #[serde(default)]
    pub verify_estimate: Option<Estimate>,
    #[serde(default)]
    pub runs: Option<Vec<ObjectOnly<RunFile>>>,
}

/// One recorded run of an agent on a task (`runs`, written by swarm): what is summed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunFile {
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub turns: Option<u64>,
}

/// Any JSON value, read only for whether it is an object (`landed`: a record, or `null`).
pub(crate) struct IsObject(pub bool);

impl<'de> Deserialize<'de> for IsObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectCheck;
        impl<'de> Visitor<'de> for ObjectCheck {
            type Value = IsObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IsObject, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(IsObject(true))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<IsObject, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(IsObject(false))
            }
            fn visit_bool<E>(self, _: bool) -> Result<IsObject, E> {
                Ok(IsObject(false))
            }
            fn visit_i64<E>(self, _: i64) -> Result<IsObject, E> {
                Ok(IsObject(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<IsObject, E> {
                Ok(IsObject(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<IsObject, E> {
                Ok(IsObject(false))
            }
            fn visit_str<E>(self, _: &str) -> Result<IsObject, E> {
                Ok(IsObject(false))
            }
            fn visit_unit<E>(self) -> Result<IsObject, E> {
                Ok(IsObject(false))
            }
        }
        d.deserialize_any(ObjectCheck)
    }
}

/// `coordination`: pre-assigned agents, the integration branch.
#[derive(Deserialize)]
pub(crate) struct CoordinationFile<'a> {
    #[serde(default, borrow)]
    pub agents: Option<NamedMap<'a, AgentSpecFile>>,
    #[serde(default)]
    pub integration: Option<ObjectOnly<IntegrationFile>>,
    #[serde(default, rename = "budgetUsd")]
    pub budget_usd: Option<f64>,
    #[serde(default, rename = "maxAgents")]
    pub max_agents: Option<u32>,
    #[serde(default)]
    pub permissions: Option<crate::agent::Permissions>,
    #[serde(default)]
    pub worktree: Option<ObjectOnly<WorktreeFile>>,
}

/// `coordination.worktree`: how a new worktree is made ready to work.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WorktreeFile {
    #[serde(default)]
    pub include: Option<Vec<String>>,
    #[serde(default)]
    pub link: Option<Vec<String>>,
    #[serde(default)]
    pub copy: Option<Vec<String>>,
    #[serde(default)]
    pub setup: Option<CommandLine>,
    #[serde(default)]
    pub teardown: Option<CommandLine>,
    #[serde(default)]
    pub setup_timeout: Option<super::recipe::Timeout>,
    #[serde(default)]
    pub ports: Option<u16>,
}

/// `coordination.integration`: where finished tasks land, and how they are verified.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IntegrationFile {
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub verify: Option<CommandLine>,
    #[serde(default)]
    pub verify_timeout: Option<Estimate>,
    #[serde(default)]
    pub verify_estimate: Option<Estimate>,
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
pub(crate) struct JoinPointFile<'a> {
    #[serde(borrow)]
    pub requires: Vec<Cow<'a, str>>,
}

/// A JSON object of objects, read in order, that refuses empty and duplicate keys (serde_json
/// would keep the last duplicate silently). Keys borrow from the input where they can.
pub(crate) struct NamedMap<'a, T>(pub Vec<(Cow<'a, str>, T)>);

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for NamedMap<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NamedMapVisitor<'a, T>(PhantomData<(&'a (), T)>);
        impl<'de: 'a, 'a, T: Deserialize<'de>> Visitor<'de> for NamedMapVisitor<'a, T> {
            type Value = NamedMap<'a, T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object keyed by id")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(Cow<'a, str>, T)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(0));
                let mut seen = HashSet::new();
                while let Some(BorrowedKey(key)) = map.next_key()? {
                    let key = check_key(key, &mut seen)?;
                    let ObjectOnly(value) = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(NamedMap(entries))
            }
        }
        d.deserialize_map(NamedMapVisitor(PhantomData))
    }
}

/// The tasks, each kept as its raw JSON text (which borrows from the file and knows its place
/// in it), so the file can be rewritten task by task. Repeated and empty ids are found when
/// the tasks are indexed, and explained by the fully typed parse (`PlanFile`).
pub(crate) struct RawTasks<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for RawTasks<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RawTasksVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for RawTasksVisitor<'a> {
            type Value = RawTasks<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object keyed by task id")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(BorrowedKey(key)) = map.next_key()? {
                    let raw: &'a RawValue = map.next_value()?;
                    entries.push((key, raw));
                }
                Ok(RawTasks(entries))
            }
        }
        d.deserialize_map(RawTasksVisitor(PhantomData))
    }
}

/// The top of status.json with the tasks left raw, so each keeps its place in the file (see
/// `load::parse`).
#[derive(Deserialize)]
#[serde(expecting = "a plan object: {\"tasks\": {...}}")]
pub(crate) struct PlanTop<'a> {
    #[serde(borrow)]
    pub tasks: RawTasks<'a>,
    #[serde(default, borrow)]
    pub coordination: Option<ObjectOnly<CoordinationFile<'a>>>,
    #[serde(default, rename = "joinPoints", borrow)]
    pub join_points: Option<NamedMap<'a, JoinPointFile<'a>>>,
}

/// Refuses empty and repeated keys (serde_json would keep the last duplicate silently).
fn check_key<'a, E: de::Error>(
    key: Cow<'a, str>,
    seen: &mut HashSet<Cow<'a, str>>,
) -> Result<Cow<'a, str>, E> {
    if key.trim().is_empty() {
        return Err(E::custom("empty id: expected a non-empty key"));
    }
    if !seen.insert(key.clone()) {
        return Err(E::custom(format!("duplicate key {key:?}")));
    }
    Ok(key)
}

/// A string (a map key, a `blockedBy` entry) that borrows from the input when it has no
/// escapes.
pub(crate) struct BorrowedKey<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for BorrowedKey<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor<'b>(PhantomData<&'b ()>);
        impl<'de: 'b, 'b> Visitor<'de> for KeyVisitor<'b> {
            type Value = BorrowedKey<'b>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BorrowedKey(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedKey(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(BorrowedKey(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor(PhantomData))
    }
}
