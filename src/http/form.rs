//! Reading request fields with DRF's rules and messages, collecting every error.
//!
//! A `Fields` reader walks a body's fields, turns each into a domain value through its `parse`,
//! and records DRF's message for each failure, so one `400` reports every bad field at once.
//! In partial mode (`PATCH`) a missing field is simply not changed.

use serde_json::{Map, Value};

use crate::domain::Amount;
use crate::error::{ApiError, FieldErrors};

pub const REQUIRED: &str = "This field is required.";
pub const NOT_NULL: &str = "This field may not be null.";
pub const BLANK: &str = "This field may not be blank.";
pub const NOT_A_STRING: &str = "Not a valid string.";

/// A field reader over one request body.
pub struct Fields<'a> {
    body: &'a Map<String, Value>,
    partial: bool,
    pub errors: FieldErrors,
}

impl<'a> Fields<'a> {
    /// Every required field must be present.
    pub fn new(body: &'a Map<String, Value>) -> Self {
        Self {
            body,
            partial: false,
            errors: FieldErrors::default(),
        }
    }

    /// Missing fields are left alone (`PATCH`).
    pub fn partial(body: &'a Map<String, Value>) -> Self {
        Self {
            body,
            partial: true,
            errors: FieldErrors::default(),
        }
    }

    /// The raw text of a field: `Ok(None)` when absent, an error message for `null` or for
    /// a value that is not a string or number (DRF's `CharField` accepts numbers).
    fn text(&self, name: &str) -> Result<Option<String>, &'static str> {
        match self.body.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Null) => Err(NOT_NULL),
            Some(_) => Err(NOT_A_STRING),
        }
    }

    /// A required text field, trimmed, not blank, then parsed. `None` means "absent in a
    /// partial update" or "invalid" (the error is recorded).
    pub fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        self.required_raw(name, true, parse)
    }

    /// Like `required`, but the value is not trimmed (passwords).
    pub fn required_untrimmed<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        self.required_raw(name, false, parse)
    }

    fn required_raw<T>(
        &mut self,
        name: &str,
        trim: bool,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match self.text(name) {
            Err(message) => self.errors.add(name, message),
            Ok(None) if self.partial => {}
            Ok(None) => self.errors.add(name, REQUIRED),
            Ok(Some(text)) => {
                let text = if trim { text.trim() } else { text.as_str() };
                if text.is_empty() {
                    self.errors.add(name, BLANK);
                } else {
                    match parse(text) {
                        Ok(value) => return Some(value),
                        Err(message) => self.errors.add(name, message),
                    }
                }
            }
        }
        None
    }

    /// An optional field: `None` when absent, `Some(None)` for `null` or blank, `Some(Some(v))`
    /// when given and valid. `required_key` makes the key itself mandatory (`PUT`).
    pub fn optional<T>(
        &mut self,
        name: &str,
        required_key: bool,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.body.get(name) {
            None if required_key && !self.partial => {
                self.errors.add(name, REQUIRED);
                None
            }
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => match self.text(name) {
                Err(message) => {
                    self.errors.add(name, message);
                    None
                }
                Ok(text) => {
                    let text = text.unwrap_or_default();
                    let text = text.trim();
                    if text.is_empty() {
                        return Some(None);
                    }
                    match parse(text) {
                        Ok(value) => Some(Some(value)),
                        Err(message) => {
                            self.errors.add(name, message);
                            None
                        }
                    }
                }
            },
        }
    }

    /// A money amount: a string or a JSON number, read exactly.
    pub fn amount(&mut self, name: &str) -> Option<Amount> {
        match self.body.get(name) {
            Some(Value::Bool(_) | Value::Array(_) | Value::Object(_)) => {
                self.errors.add(name, "A valid number is required.");
                None
            }
            _ => self.required(name, |text| Amount::parse(text).map_err(|e| e.to_string())),
        }
    }

    /// `Ok(())` when every field was valid.
    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.into_result()
    }
}

/// A length check with DRF's message, for use inside `parse` closures.
pub fn max_chars(text: &str, max: usize) -> Result<String, String> {
    if text.chars().count() > max {
        Err(crate::domain::profile::max_length_message(max))
    } else {
        Ok(text.to_owned())
    }
}

/// DRF's `ChoiceField` message.
pub fn invalid_choice(text: &str) -> String {
    format!("\"{text}\" is not a valid choice.")
}
