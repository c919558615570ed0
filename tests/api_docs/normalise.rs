//! Normalising volatile values: every time, token, JWT, account and card number, request id,
//! hash and the port is replaced by a stable placeholder, so two runs render the same bytes.

use serde_json::{Value, json};

/// The address every example shows instead of the test server's random port.
pub const SHOWN_HOST: &str = "127.0.0.1:8000";
/// Every RFC 3339 time in an example is shown as this one.
pub const SHOWN_TIMESTAMP: &str = "2026-11-21T09:30:00.123456Z";
/// Today (UTC) and the first day of the statement period, as shown.
pub const SHOWN_TODAY: &str = "2026-11-21";
pub const SHOWN_PERIOD_START: &str = "2026-10-22";
/// Card expiry as shown: issued in November 2026, valid four years.
const SHOWN_EXPIRY_MONTH: u64 = 11;
const SHOWN_EXPIRY_YEAR: u64 = 2030;

/// Replaces real values by their placeholders in text.
pub struct Normaliser {
    /// Longest first, so a token is replaced before any shorter text inside it.
    aliases: Vec<(String, String)>,
}

impl Normaliser {
    pub fn new(aliases: &[(String, String)]) -> Self {
        let mut aliases = aliases.to_vec();
        aliases.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        Self { aliases }
    }

    /// One left-to-right pass: each position is a timestamp, an alias or itself, so a
    /// replacement is never replaced again.
    pub fn text(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(ch) = rest.chars().next() {
            if let Some(length) = timestamp_length(rest) {
                out.push_str(SHOWN_TIMESTAMP);
                rest = &rest[length..];
            } else if let Some((real, shown)) = self
                .aliases
                .iter()
                .find(|(real, _)| rest.starts_with(real.as_str()))
            {
                out.push_str(shown);
                rest = &rest[real.len()..];
            } else {
                out.push(ch);
                rest = &rest[ch.len_utf8()..];
            }
        }
        // DRF's throttle message counts down; the example shows a fresh window.
        replace_number_after(&out, "Expected available in ", "60")
    }
}

/// The length of an RFC 3339 UTC time (`2026-11-21T09:30:00[.123456]Z`) at the start of `text`.
fn timestamp_length(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    if bytes.len() < shape.len() + 1 {
        return None;
    }
    for (byte, expected) in bytes.iter().zip(shape) {
        let ok = match expected {
            b'd' => byte.is_ascii_digit(),
            other => byte == other,
        };
        if !ok {
            return None;
        }
    }
    let mut end = shape.len();
    if bytes[end] == b'.' {
        end += 1;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
    }
    (end < bytes.len() && bytes[end] == b'Z').then_some(end + 1)
}

fn replace_number_after(text: &str, prefix: &str, number: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let after = at + prefix.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str(number);
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// A Luhn-valid 16-digit card number for card `id`, starting with the default IIN.
fn shown_card_number(id: i64) -> String {
    let body = format!("400000{:09}", id);
    let mut sum = 0;
    for (index, digit) in body.bytes().rev().enumerate() {
        let mut value = u32::from(digit - b'0');
        if index % 2 == 0 {
            value *= 2;
            if value > 9 {
                value -= 9;
            }
        }
        sum += value;
    }
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn shown_last4(id: i64) -> String {
    let number = shown_card_number(id);
    number[number.len() - 4..].to_owned()
}

/// Replaces values that are random or time-dependent by their field name.
pub fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let card_id = (map.contains_key("masked_number") || map.contains_key("card_number"))
                .then(|| map.get("id").and_then(Value::as_i64))
                .flatten();
            let audited_card = (map.get("object_type") == Some(&json!("card")))
                .then(|| map.get("object_id").and_then(Value::as_i64))
                .flatten();
            for (key, value) in map.iter_mut() {
                match (key.as_str(), card_id, audited_card) {
                    ("hash", _, _) => *value = json!("<sha256 of the previous hash and this row>"),
                    ("request_id", _, _) => *value = json!("<request-id>"),
                    ("cvv", _, _) => *value = json!("123"),
                    ("card_number", Some(id), _) => *value = json!(shown_card_number(id)),
                    ("masked_number", Some(id), _) => {
                        *value = json!(format!("**** **** **** {}", shown_last4(id)));
                    }
                    ("expiry_month", _, _) => *value = json!(SHOWN_EXPIRY_MONTH),
                    ("expiry_year", _, _) => *value = json!(SHOWN_EXPIRY_YEAR),
                    ("details", _, Some(id)) => {
                        if let Some(last4) = value.get_mut("last4") {
                            *last4 = json!(shown_last4(id));
                        }
                    }
                    _ => scrub(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering.
