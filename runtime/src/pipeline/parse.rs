//! Reading TOML into the raw model, with the toml crate's errors rewritten
//! into Gantry's `<file>:<line>: <where>: <what>` form.
//!
//! A toml error carries a byte span and a serde message but not the key path
//! it happened at. The path is recovered by walking the parsed document for
//! the deepest key or value whose span holds the error; the path then names
//! the stage (by id) and the table, as hand-written validation errors do.

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{PipelineError, Source, stage_label};
use super::names::StageId;

/// Parses `source` as TOML and deserializes it into `T`.
///
/// # Errors
///
/// Returns a syntax error, or a schema error (unknown key, missing key,
/// wrong type) located at its table and line.
pub(super) fn parse_toml<T: DeserializeOwned>(source: &Source) -> Result<T, PipelineError> {
    let document = DeTable::parse(&source.text).map_err(|e| syntax_error(source, &e))?;
    let deserializer = toml::de::Deserializer::from(document.clone());
    T::deserialize(deserializer).map_err(|e| schema_error(source, document.get_ref(), &e))
}

fn syntax_error(source: &Source, error: &toml::de::Error) -> PipelineError {
    let message = error.message().trim_end();
    let Some(span) = error.span() else {
        return PipelineError::Syntax {
            at: source.at_unknown_line(""),
            message: message.to_owned(),
        };
    };
    // The parser says only "duplicate key"; its span is the key itself.
    let message = match source.text.get(span.clone()) {
        Some(key) if message == "duplicate key" && !key.is_empty() => {
            format!("duplicate key `{key}`")
        }
        _ => message.to_owned(),
    };
    PipelineError::Syntax {
        at: source.at(span, ""),
        message,
    }
}

fn schema_error(source: &Source, document: &DeTable<'_>, error: &toml::de::Error) -> PipelineError {
    // The document itself has an empty span (a missing top-level key).
    let found = error
        .span()
        .filter(|span| !span.is_empty())
        .and_then(|span| locate_in_table(document, span.start).map(|found| (span, found)));
    let at = match found {
        Some((span, found)) => source.at(span, describe(document, &found.context_path())),
        None => source.at_unknown_line(""),
    };
    let message = error.message().trim_end();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        return PipelineError::UnknownKey {
            at,
            key: key.to_owned(),
            allowed: backticked(expected),
        };
    }
    if let Some(key) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        let key = key.to_owned();
        return PipelineError::MissingKey { at, key };
    }
    let message = plain_words(message);
    PipelineError::InvalidValue { at, message }
}

/// The words between backticks in serde's "expected one of `a`, `b`".
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Serde's words for types, in TOML's words. Only the "expected …" tail is
/// rewritten, so a quoted value is never changed.
fn plain_words(message: &str) -> String {
    let Some((found, expected)) = message.split_once(", expected ") else {
        return message.to_owned();
    };
    let found = match found {
        "invalid type: sequence" => "invalid type: array",
        "invalid type: map" => "invalid type: table",
        other => other,
    };
    let expected = match expected {
        "a sequence" => "an array",
        "a map" => "a table",
        "u32" => "a whole number from 0 to 4294967295",
        other => other,
    };
    format!("{found}, expected {expected}")
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Where an offset fell: the path to the deepest node holding it, and
/// whether it fell on the last key's name rather than its value.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    path: Vec<Step>,
    on_key: bool,
}

impl Found {
    /// The path of the table the error is about: for an error on a key's
    /// name (an unknown key), the table holding the key.
    fn context_path(mut self) -> Vec<Step> {
        if self.on_key {
            self.path.pop();
        }
        self.path
    }
}

/// Finds the deepest key or value holding `offset`. Inside each entry, the
/// value's contents are searched first, then the key, then the value as a
/// whole: a table header's span covers its key, and an error there is about
/// the key.
fn locate_in_table(table: &DeTable<'_>, offset: usize) -> Option<Found> {
    table.iter().find_map(|(key, value)| {
        let step = Step::Key(key.get_ref().to_string());
        let (path, on_key) = if let Some(found) = locate_inside(value, offset) {
            (found.path, found.on_key)
        } else if key.span().contains(&offset) {
            (Vec::new(), true)
        } else if value.span().contains(&offset) {
            (Vec::new(), false)
        } else {
            return None;
        };
        let mut full = vec![step];
        full.extend(path);
        Some(Found { path: full, on_key })
    })
}

/// Searches the contents of a table or array value for `offset`.
fn locate_inside(value: &Spanned<DeValue<'_>>, offset: usize) -> Option<Found> {
    match value.get_ref() {
        DeValue::Table(table) => locate_in_table(table, offset),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let mut found = locate_inside(item, offset).or_else(|| {
                item.span().contains(&offset).then(|| Found {
                    path: Vec::new(),
                    on_key: false,
                })
            })?;
            found.path.insert(0, Step::Index(i));
            Some(found)
        }),
        _ => None,
    }
}

/// Names a key path as messages do: "stage `scan`, `grants.read`",
/// "`pipeline.mounts`", or nothing for the document itself.
fn describe(document: &DeTable<'_>, path: &[Step]) -> String {
    match path {
        [Step::Key(stage), Step::Index(index), rest @ ..] if stage == "stage" => {
            let label = stage_label(stage_id(document, *index).as_deref(), *index);
            match dotted(rest) {
                Some(keys) => format!("{label}, `{keys}`"),
                None => label,
            }
        }
        _ => dotted(path)
            .map(|keys| format!("`{keys}`"))
            .unwrap_or_default(),
    }
}

/// The keys of a path joined with `.`, array positions left out.
fn dotted(path: &[Step]) -> Option<String> {
    let keys: Vec<&str> = path
        .iter()
        .filter_map(|step| match step {
            Step::Key(key) => Some(key.as_str()),
            Step::Index(_) => None,
        })
        .collect();
    (!keys.is_empty()).then(|| keys.join("."))
}

/// The id of the stage at `index`, if it has a valid one.
fn stage_id(document: &DeTable<'_>, index: usize) -> Option<String> {
    let stage = document.get("stage")?.get_ref().get(index)?;
    let id = stage.get_ref().get("id")?.get_ref().as_str()?;
    StageId::new(id).ok().map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found_at(text: &str, needle: &str) -> Vec<Step> {
        let document = DeTable::parse(text).expect("valid toml");
        let offset = text.find(needle).expect("needle present");
        let found = locate_in_table(document.get_ref(), offset).expect("found");
        found.context_path()
    }

    fn key(name: &str) -> Step {
        Step::Key(name.to_owned())
    }

    const TEXT: &str = "[pipeline]\nname = \"x\"\n\n[[stage]]\nid = \"a\"\n\n[[stage]]\n\
                        id = \"b\"\n[stage.grants]\nread = [\".\", 7]\nnetwrk = 1\n";

    #[test]
    fn an_unknown_key_is_located_at_its_table() {
        let path = found_at(TEXT, "netwrk");
        assert_eq!(path, [key("stage"), Step::Index(1), key("grants")]);
    }

    #[test]
    fn a_bad_value_is_located_at_its_key() {
        assert_eq!(found_at(TEXT, "\"x\""), [key("pipeline"), key("name")]);
        let read = [
            key("stage"),
            Step::Index(1),
            key("grants"),
            key("read"),
            Step::Index(1),
        ];
        assert_eq!(found_at(TEXT, "7]"), read);
    }

    #[test]
    fn an_unknown_table_header_is_located_at_the_top_level() {
        let text = "[pipeline]\nname = \"x\"\n[artifacts]\nkeep = true\n";
        assert_eq!(found_at(text, "artifacts"), []);
        let dotted = "[[stage]]\nid = \"a\"\nlimitz.memory = \"1 GiB\"\n";
        assert_eq!(found_at(dotted, "limitz"), [key("stage"), Step::Index(0)]);
    }

    #[test]
    fn a_table_header_locates_the_table() {
        let second = TEXT
            .match_indices("[[stage]]")
            .nth(1)
            .expect("two stages")
            .0;
        let document = DeTable::parse(TEXT).expect("valid toml");
        let found = locate_in_table(document.get_ref(), second).expect("found");
        assert_eq!(found.context_path(), [key("stage"), Step::Index(1)]);
    }

    #[test]
    fn paths_are_described_by_stage_id_and_dotted_keys() {
        let document = DeTable::parse(TEXT).expect("valid toml");
        let doc = document.get_ref();
        let grants = [
            key("stage"),
            Step::Index(1),
            key("grants"),
            key("read"),
            Step::Index(0),
        ];
        assert_eq!(describe(doc, &grants), "stage `b`, `grants.read`");
        assert_eq!(describe(doc, &[key("stage"), Step::Index(0)]), "stage `a`");
        assert_eq!(describe(doc, &[key("stage"), Step::Index(5)]), "stage #6");
        assert_eq!(
            describe(doc, &[key("pipeline"), key("mounts")]),
            "`pipeline.mounts`"
        );
        assert_eq!(describe(doc, &[]), "");
    }

    #[test]
    fn serde_type_names_become_toml_type_names() {
        let message = "invalid type: string \"a sequence\", expected a sequence";
        let expected = "invalid type: string \"a sequence\", expected an array";
        assert_eq!(plain_words(message), expected);
        let message = "invalid type: map, expected a string";
        assert_eq!(
            plain_words(message),
            "invalid type: table, expected a string"
        );
    }

    #[test]
    fn serde_expectations_list_the_allowed_keys() {
        assert_eq!(
            backticked(", expected one of `a`, `b`, `c`"),
            ["a", "b", "c"]
        );
        assert_eq!(backticked(", expected `a` or `b`"), ["a", "b"]);
        assert!(backticked(", there are no fields").is_empty());
    }
}
