//! Reading a stage's `[stage.config]` table into a typed model.

use serde::de::DeserializeOwned;

use crate::StageError;

/// Parses the stage's config JSON into `T`.
///
/// Give `T` `#[serde(deny_unknown_fields, rename_all = "kebab-case")]` so a
/// misspelt key is an error rather than a silently ignored setting. Errors
/// name the key where parsing stopped, as a path like `files[0].mode`.
///
/// # Errors
///
/// Returns [`StageError::InvalidConfig`] when the JSON does not match `T`.
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, StageError> {
    let deserializer = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = strip_position(error.inner());
        let message = if path == "." {
            inner
        } else {
            format!("`{path}`: {inner}")
        };
        StageError::InvalidConfig(message)
    })
}

/// Drops serde_json's " at line 1 column 42": the host wrote the JSON from
/// TOML, so its positions mean nothing to the pipeline's author.
fn strip_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(end) => message[..end].to_owned(),
        None => message,
    }
}

/// Returns an [`StageError::InvalidConfig`] about `key`.
///
/// For checks serde cannot make, such as an empty list or a malformed mode.
pub fn invalid(key: &str, problem: impl std::fmt::Display) -> StageError {
    StageError::InvalidConfig(format!("`{key}`: {problem}"))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Example {
        name: String,
        #[serde(default)]
        files: Vec<File>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        mode: u32,
    }

    fn message(error: StageError) -> String {
        match error {
            StageError::InvalidConfig(message) => message,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let error = parse::<Example>(r#"{"name":"x","nmae":"y"}"#).unwrap_err();
        let text = message(error);
        assert!(text.contains("unknown field `nmae`"), "{text}");
    }

    #[test]
    fn wrong_type_names_the_nested_key() {
        let error = parse::<Example>(r#"{"name":"x","files":[{"mode":"0755"}]}"#).unwrap_err();
        let text = message(error);
        assert!(text.starts_with("`files[0].mode`: invalid type"), "{text}");
        assert!(!text.contains("line"), "{text}");
    }

    #[test]
    fn missing_key_is_named() {
        let text = message(parse::<Example>("{}").unwrap_err());
        assert_eq!(text, "missing field `name`");
    }

    #[test]
    fn valid_config_parses() {
        let example = parse::<Example>(r#"{"name":"x","files":[{"mode":493}]}"#).unwrap();
        assert_eq!(example.name, "x");
        assert_eq!(example.files[0].mode, 0o755);
    }
}
