//! A string that must never be printed: `Debug` and `Display` show a mask, never the value.

use std::fmt;

/// A secret value (HMAC secret, run token, admin token).
///
/// The only way to read the value is [`Secret::expose`], so every place that handles the raw
/// bytes is greppable.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value. Call sites are the only places a secret leaves this wrapper.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A mask that tells set from unset without revealing anything but the length class.
    pub fn masked(&self) -> String {
        if self.0.is_empty() {
            "(empty)".to_string()
        } else {
            format!("******** ({} chars)", self.0.chars().count())
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-very-secret");
    }
}
