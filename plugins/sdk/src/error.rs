//! Turning failures into [`StageError`]s that say what went wrong.

use std::error::Error;

use crate::StageError;

/// Adds context to any error on its way out of a plugin as a [`StageError`].
///
/// The message is the context, then the error and each of its sources, joined
/// by colons: "failed to read the image: failed to read
/// `/in/build/image/index.json`: No such file or directory".
pub trait ResultExt<T> {
    /// Maps an error to [`StageError::Internal`] with `context` in front.
    ///
    /// # Errors
    ///
    /// Returns the mapped error when `self` is an error.
    fn or_internal(self, context: impl FnOnce() -> String) -> Result<T, StageError>;

    /// Maps an error to [`StageError::MissingInput`] with `context` in front.
    ///
    /// # Errors
    ///
    /// Returns the mapped error when `self` is an error.
    fn or_missing_input(self, context: impl FnOnce() -> String) -> Result<T, StageError>;
}

impl<T, E: Error> ResultExt<T> for Result<T, E> {
    fn or_internal(self, context: impl FnOnce() -> String) -> Result<T, StageError> {
        self.map_err(|error| StageError::Internal(with_context(context(), &error)))
    }

    fn or_missing_input(self, context: impl FnOnce() -> String) -> Result<T, StageError> {
        self.map_err(|error| StageError::MissingInput(with_context(context(), &error)))
    }
}

/// Formats `error` and its chain of sources, joined by colons.
pub fn error_chain(error: &dyn Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

fn with_context(context: String, error: &dyn Error) -> String {
    format!("{context}: {}", error_chain(error))
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::io;

    use super::*;

    #[derive(Debug)]
    struct Outer(io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("failed to read `index.json`")
        }
    }

    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn context_is_followed_by_every_cause() {
        let failed: Result<(), Outer> = Err(Outer(io::Error::other("disk on fire")));
        let error = failed
            .or_internal(|| "failed to read the image".to_owned())
            .unwrap_err();
        let StageError::Internal(message) = error else {
            panic!("expected internal")
        };
        assert_eq!(
            message,
            "failed to read the image: failed to read `index.json`: disk on fire"
        );
    }

    #[test]
    fn missing_input_keeps_its_kind() {
        let failed: Result<(), io::Error> = Err(io::Error::other("gone"));
        let error = failed
            .or_missing_input(|| "no sbom".to_owned())
            .unwrap_err();
        assert!(matches!(error, StageError::MissingInput(message) if message == "no sbom: gone"));
    }
}
