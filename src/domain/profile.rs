//! Who a customer is: username, email, name, phone, birth date and gender.
//!
//! Each `parse` returns DRF's or Django's message for the failure, so that a client of the
//! Django original sees the same field errors.

use std::fmt;

use chrono::NaiveDate;

use crate::domain::time::{parse_date, today_utc};
use crate::limits::{
    EMAIL_CHARS_MAX, FULL_NAME_CHARS_MAX, PHONE_NUMBER_CHARS_MAX, USERNAME_CHARS_MAX,
};

pub use crate::domain::account::Gender;

/// A username: 1–150 ASCII letters, digits and `@ . + - _`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.chars().count() > USERNAME_CHARS_MAX {
            return Err(max_length_message(USERNAME_CHARS_MAX));
        }
        let valid = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@.+-_".contains(&b));
        if !valid {
            return Err("Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.".to_owned());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address in the shape Django's `EmailValidator` accepts (dot-atom local part, a
/// domain of letter/digit/hyphen labels with an alphabetic top-level label).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || "Enter a valid email address.".to_owned();
        if text.chars().count() > EMAIL_CHARS_MAX {
            return Err(max_length_message(EMAIL_CHARS_MAX));
        }
        let (local, domain) = text.rsplit_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.split('.').all(|atom| {
                !atom.is_empty()
                    && atom
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b))
            });
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
        if local_ok && domain_ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A full name: 1–200 characters after trimming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.chars().count() > FULL_NAME_CHARS_MAX {
            return Err(max_length_message(FULL_NAME_CHARS_MAX));
        }
        if text.is_empty() {
            return Err("This field may not be blank.".to_owned());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number: up to 32 characters of digits, spaces and `+ - ( )`, with a digit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.chars().count() > PHONE_NUMBER_CHARS_MAX {
            return Err(max_length_message(PHONE_NUMBER_CHARS_MAX));
        }
        let valid = text.bytes().any(|b| b.is_ascii_digit())
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || b" +-()".contains(&b));
        if !valid {
            return Err("Enter a valid phone number: digits, spaces and + - ( ) only.".to_owned());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A date of birth: a real `YYYY-MM-DD` date, not in the future.
pub fn parse_date_of_birth(text: &str) -> Result<NaiveDate, String> {
    let date = parse_date(text).ok_or_else(|| {
        "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.".to_owned()
    })?;
    if date > today_utc() {
        return Err("Date of birth cannot be in the future.".to_owned());
    }
    Ok(date)
}

/// Parses a gender choice with DRF's `ChoiceField` message.
pub fn parse_gender(text: &str) -> Result<Gender, String> {
    Gender::parse(text).ok_or_else(|| format!("\"{text}\" is not a valid choice."))
}

/// DRF's `max_length` message.
pub fn max_length_message(max: usize) -> String {
    format!("Ensure this field has no more than {max} characters.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("new.user+1@x-y_z").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("has space").is_err());
        assert!(Username::parse("ünï").is_err());
        assert!(Username::parse("robert'); DROP TABLE users;--").is_err());
        assert!(Username::parse(&"a".repeat(150)).is_ok());
        assert_eq!(
            Username::parse(&"a".repeat(151)),
            Err(max_length_message(150))
        );
    }

    #[test]
    fn emails() {
        for good in ["new@example.com", "a.b+c@sub.example.org", "x@y.io"] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@b.c",
            "a..b@x.com",
            "a@-x.com",
            "a b@x.com",
            "a@x.com\n",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn phones_and_dates() {
        assert!(PhoneNumber::parse("+1 (555) 123-4567").is_ok());
        assert!(PhoneNumber::parse("555-1234").is_ok());
        assert!(PhoneNumber::parse("call me").is_err());
        assert!(PhoneNumber::parse("---").is_err());
        assert!(parse_date_of_birth("1995-05-15").is_ok());
        assert!(parse_date_of_birth("2999-01-01").is_err());
        assert!(parse_date_of_birth("1995-02-30").is_err());
        assert_eq!(
            parse_gender("X"),
            Err("\"X\" is not a valid choice.".to_owned())
        );
    }
}
