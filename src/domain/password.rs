//! Passwords and Django's four default password validators.
//!
//! A `Password` can only be built by `Password::parse`, which runs, in Django's order:
//! `UserAttributeSimilarityValidator` (max similarity 0.7 against username, full name and email),
//! `MinimumLengthValidator` (8), `CommonPasswordValidator` (Django's list of 20,000 common
//! passwords, shipped in the binary; BSD-3 licence in `licenses/django-LICENSE.txt`) and
//! `NumericPasswordValidator`. Like Django, every failing validator reports its message.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use crate::limits::{PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN};

/// A password that passed every validator. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The user attributes a password must not resemble.
pub struct UserAttributes<'a> {
    pub username: &'a str,
    pub full_name: &'a str,
    pub email: &'a str,
}

const MAX_SIMILARITY: f64 = 0.7;

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().collect());

impl Password {
    /// Validates `text` against Django's validators; on failure returns every message.
    pub fn parse(text: &str, user: &UserAttributes<'_>) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        if let Some(attribute) = too_similar_attribute(text, user) {
            errors.push(format!("The password is too similar to the {attribute}."));
        }
        let length = text.chars().count();
        if length < PASSWORD_CHARS_MIN {
            errors.push(format!(
                "This password is too short. It must contain at least {PASSWORD_CHARS_MIN} characters."
            ));
        }
        if length > PASSWORD_CHARS_MAX {
            errors.push(format!(
                "Ensure this field has no more than {PASSWORD_CHARS_MAX} characters."
            ));
        }
        if COMMON_PASSWORDS.contains(text.trim().to_lowercase().as_str()) {
            errors.push("This password is too common.".to_owned());
        }
        if !text.is_empty() && text.chars().all(|c| c.is_numeric()) {
            errors.push("This password is entirely numeric.".to_owned());
        }
        if errors.is_empty() {
            Ok(Self(text.to_owned()))
        } else {
            Err(errors)
        }
    }

    /// The secret itself, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Django's `UserAttributeSimilarityValidator`: the first attribute (or any `\W+`-separated
/// part of it) whose `SequenceMatcher.quick_ratio()` with the password reaches 0.7.
fn too_similar_attribute(password: &str, user: &UserAttributes<'_>) -> Option<&'static str> {
    let password = password.to_lowercase();
    let attributes = [
        ("username", user.username),
        ("full name", user.full_name),
        ("email address", user.email),
    ];
    for (verbose_name, value) in attributes {
        if value.is_empty() {
            continue;
        }
        let value = value.to_lowercase();
        let parts = value
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .chain(std::iter::once(value.as_str()));
        for part in parts {
            if exceeds_maximum_length_ratio(&password, part) {
                continue;
            }
            if quick_ratio(&password, part) >= MAX_SIMILARITY {
                return Some(verbose_name);
            }
        }
    }
    None
}

/// Django skips comparisons where the password is so much longer than the value that they
/// cannot be similar.
fn exceeds_maximum_length_ratio(password: &str, value: &str) -> bool {
    let password_len = password.chars().count() as f64;
    let value_len = value.chars().count() as f64;
    let length_bound_similarity = MAX_SIMILARITY / 2.0 * password_len;
    password_len >= 10.0 * value_len && value_len < length_bound_similarity
}

/// Python's `difflib.SequenceMatcher(a, b).quick_ratio()`: 2 × (multiset intersection size)
/// / (len a + len b).
fn quick_ratio(a: &str, b: &str) -> f64 {
    let total = a.chars().count() + b.chars().count();
    if total == 0 {
        return 1.0;
    }
    let mut available: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for c in b.chars() {
        *available.entry(c).or_default() += 1;
    }
    let mut matches = 0usize;
    for c in a.chars() {
        if let Some(count) = available.get_mut(&c)
            && *count > 0
        {
            *count -= 1;
            matches += 1;
        }
    }
    2.0 * matches as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOBODY: UserAttributes<'static> = UserAttributes {
        username: "alice",
        full_name: "Alice Example",
        email: "alice@example.com",
    };

    fn messages(text: &str) -> Vec<String> {
        Password::parse(text, &NOBODY).err().unwrap_or_default()
    }

    #[test]
    fn strong_password_passes() {
        assert!(Password::parse("a-strong-password123", &NOBODY).is_ok());
    }

    #[test]
    fn each_validator_reports_its_message() {
        assert_eq!(
            messages("xk3#"),
            vec!["This password is too short. It must contain at least 8 characters."]
        );
        assert_eq!(messages("password"), vec!["This password is too common."]);
        assert_eq!(
            messages("98712365478"),
            vec!["This password is entirely numeric."]
        );
        // quick_ratio("alice1234", "alice") = 0.714 >= 0.7, but "alice12345" gives 0.667 (allowed).
        assert_eq!(
            messages("alice1234"),
            vec!["The password is too similar to the username."]
        );
        assert!(messages("alice12345").is_empty());
        assert_eq!(
            messages("Example!!"),
            vec!["The password is too similar to the full name."]
        );
    }

    #[test]
    fn short_common_numeric_password_gets_all_three() {
        assert_eq!(messages("123").len(), 3);
        assert_eq!(messages("12345678").len(), 2);
    }

    #[test]
    fn quick_ratio_matches_python() {
        // difflib.SequenceMatcher(a="abcd", b="bcde").quick_ratio() == 0.75
        assert!((quick_ratio("abcd", "bcde") - 0.75).abs() < 1e-9);
        assert!((quick_ratio("", "") - 1.0).abs() < 1e-9);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let password = Password::parse("a-strong-password123", &NOBODY).expect("valid");
        assert!(!format!("{password:?}").contains("strong"));
    }
}
