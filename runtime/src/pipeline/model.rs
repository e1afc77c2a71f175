//! The pipeline file as serde reads it, before validation.
//!
//! Every table refuses unknown keys. Values whose errors need a line number
//! later are kept [`Spanned`]; nothing here touches the file system, and
//! nothing here is seen outside the module.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use toml::Spanned;

/// A whole pipeline file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDocument {
    pub pipeline: Spanned<RawPipeline>,
    #[serde(default)]
    pub stage: Vec<Spanned<RawStage>>,
}

/// `[pipeline]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPipeline {
    pub name: Spanned<String>,
    pub workspace: Spanned<String>,
    pub policy: Option<Spanned<RawPolicy>>,
    pub roles: Option<Spanned<String>>,
    #[serde(default)]
    pub mounts: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(rename = "signing-key")]
    pub signing_key: Option<Spanned<RawSigningKey>>,
}

/// `[pipeline] signing-key = { path }` or `{ env }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSigningKey {
    pub path: Option<Spanned<String>>,
    pub env: Option<Spanned<String>>,
}

/// `[pipeline] policy = { id, version, file }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub id: Spanned<String>,
    pub version: Spanned<String>,
    pub file: Spanned<String>,
}

/// One `[[stage]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    pub id: Spanned<String>,
    pub plugin: Option<Spanned<RawPlugin>>,
    pub approval: Option<Spanned<RawApproval>>,
    #[serde(default)]
    pub needs: Vec<Spanned<String>>,
    pub config: Option<Spanned<toml::Table>>,
    pub grants: Option<Spanned<RawGrants>>,
    pub limits: Option<Spanned<RawLimits>>,
}

/// `[stage.grants]`; every list may be left out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrants {
    #[serde(default)]
    pub read: Vec<Spanned<String>>,
    #[serde(default)]
    pub write: Vec<Spanned<String>>,
    #[serde(default)]
    pub exec: Vec<Spanned<String>>,
    #[serde(default)]
    pub env: Vec<Spanned<String>>,
    #[serde(default)]
    pub net: Vec<Spanned<String>>,
    #[serde(default, rename = "exec-read")]
    pub exec_read: Vec<Spanned<String>>,
    #[serde(default, rename = "exec-write")]
    pub exec_write: Vec<Spanned<String>>,
}

/// `[stage.limits]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawLimits {
    pub memory: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub cpu: Option<Spanned<String>>,
    pub output: Option<Spanned<String>>,
    pub out_bytes: Option<Spanned<String>>,
    pub log_lines: Option<Spanned<i64>>,
    pub log_rate: Option<Spanned<i64>>,
    pub handles: Option<Spanned<i64>>,
}

/// `approval = { role, min, forbid-self-approval }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawApproval {
    pub role: Spanned<String>,
    pub min: Option<Spanned<u32>>,
    pub forbid_self_approval: Option<bool>,
}

/// `plugin = "gantry:scan"`, `plugin = "path/to.wasm"` or
/// `plugin = { path = "…", sha256 = "…", signature = "…" }`.
#[derive(Debug)]
pub(super) enum RawPlugin {
    Named(String),
    Pinned(RawPinnedPlugin),
}

/// The table form of `plugin`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPinnedPlugin {
    pub path: String,
    pub sha256: Option<String>,
    pub signature: Option<String>,
}

// Written by hand: an untagged enum would report only "data did not match
// any variant", where this says which two forms are allowed and lets errors
// inside the table (an unknown key) through with their own position.
impl<'de> Deserialize<'de> for RawPlugin {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PluginVisitor)
    }
}

struct PluginVisitor;

impl<'de> Visitor<'de> for PluginVisitor {
    type Value = RawPlugin;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a plugin name, a path to a `.wasm` file, or a table `{ path, sha256, signature }`",
        )
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<RawPlugin, E> {
        Ok(RawPlugin::Named(value.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawPlugin, A::Error> {
        let table = de::value::MapAccessDeserializer::new(map);
        RawPinnedPlugin::deserialize(table).map(RawPlugin::Pinned)
    }
}

/// A roles file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoles {
    #[serde(default)]
    pub identity: BTreeMap<String, Spanned<RawIdentity>>,
}

/// `[identity.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIdentity {
    pub roles: Vec<Spanned<String>>,
    #[serde(rename = "public-key")]
    pub public_key: Option<Spanned<String>>,
}

/// Converts a stage's `[stage.config]` to the JSON its plugin receives.
///
/// Datetimes become their TOML text.
///
/// # Errors
///
/// Returns the dotted key of a float JSON cannot hold (NaN or infinite).
pub(super) fn config_to_json(table: toml::Table) -> Result<serde_json::Value, String> {
    let mut object = serde_json::Map::with_capacity(table.len());
    for (key, value) in table {
        let json = value_to_json(value).map_err(|inner| join_key(&key, &inner))?;
        object.insert(key, json);
    }
    Ok(serde_json::Value::Object(object))
}

fn value_to_json(value: toml::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as Json;

    Ok(match value {
        toml::Value::String(s) => Json::String(s),
        toml::Value::Integer(i) => Json::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Json::Number)
            .ok_or_else(String::new)?,
        toml::Value::Boolean(b) => Json::Bool(b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(items) => Json::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    value_to_json(item).map_err(|inner| join_key(&i.to_string(), &inner))
                })
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => config_to_json(table)?,
    })
}

fn join_key(outer: &str, inner: &str) -> String {
    if inner.is_empty() {
        outer.to_owned()
    } else {
        format!("{outer}.{inner}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_tables_become_json_objects_in_file_order() {
        let table: toml::Table = toml::from_str(
            "fail-on = \"critical\"\nretries = 3\nratio = 0.5\nlist = [1, \"a\"]\n\
             when = 2026-01-02\n[nested]\nok = true\n",
        )
        .expect("valid toml");
        let json = config_to_json(table).expect("converts");
        let expected = serde_json::json!({
            "fail-on": "critical", "retries": 3, "ratio": 0.5, "list": [1, "a"],
            "when": "2026-01-02", "nested": { "ok": true }
        });
        assert_eq!(json, expected);
        let keys: Vec<_> = json.as_object().expect("object").keys().cloned().collect();
        assert_eq!(
            keys,
            ["fail-on", "retries", "ratio", "list", "when", "nested"]
        );
    }

    #[test]
    fn config_floats_json_cannot_hold_are_named() {
        let table: toml::Table = toml::from_str("[a]\nb = [1.0, nan]").expect("valid toml");
        assert_eq!(config_to_json(table), Err("a.b.1".to_owned()));
    }
}
