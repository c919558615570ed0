//! Payment cards: 16-digit Luhn-valid numbers, CVVs, masking and status transitions.

use std::fmt;

/// A full card number. Exists only between generation and the `201` that shows it once; its
/// `Debug` hides all but the last four digits so it cannot leak into a log.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    /// Builds a number from a 6-digit issuer prefix and 9 random digits, adding the Luhn check
    /// digit. `None` if the parts are not digits of the right length.
    pub fn from_parts(iin_prefix: &str, account_digits: &str) -> Option<Self> {
        let digits_ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok(iin_prefix, 6) || !digits_ok(account_digits, 9) {
            return None;
        }
        let body = format!("{iin_prefix}{account_digits}");
        let check = luhn_check_digit(&body);
        Some(Self(format!("{body}{check}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", masked(self.last4()))
    }
}

/// `"**** **** **** 1234"`.
pub fn masked(last4: &str) -> String {
    format!("**** **** **** {last4}")
}

/// The digit that makes `body` followed by it pass the Luhn check.
pub fn luhn_check_digit(body: &str) -> u8 {
    // Walking from the right, double every digit in the positions that will be odd once the
    // check digit is appended.
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let digit = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    ((10 - (sum % 10)) % 10) as u8
}

/// Whether a full number passes the Luhn check.
pub fn luhn_valid(number: &str) -> bool {
    match number.len().checked_sub(1) {
        Some(last) if number.bytes().all(|b| b.is_ascii_digit()) => {
            luhn_check_digit(&number[..last]) == number.as_bytes()[last] - b'0'
        }
        _ => false,
    }
}

/// A card's lifecycle: `active` ⇄ `frozen`, either → `cancelled` (final).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardStatus {
    Active,
    Frozen,
    Cancelled,
}

impl CardStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "frozen" => Some(Self::Frozen),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Frozen => "frozen",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether a card may move from `self` to `next` (staying put is allowed).
    pub fn can_become(self, next: CardStatus) -> bool {
        match (self, next) {
            (Self::Cancelled, Self::Cancelled) => true,
            (Self::Cancelled, _) => false,
            _ => true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardType {
    Debit,
    Credit,
}

impl CardType {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "debit" => Some(Self::Debit),
            "credit" => Some(Self::Credit),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debit => "debit",
            Self::Credit => "credit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_numbers_pass_luhn() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("41111111111111a1"));
    }

    #[test]
    fn debug_and_mask_show_only_the_last_four() {
        let number = CardNumber::from_parts("400000", "123456789").expect("digits");
        assert_eq!(number.as_str().len(), 16);
        assert!(!format!("{number:?}").contains("400000"));
        assert_eq!(
            masked(number.last4()),
            format!("**** **** **** {}", &number.as_str()[12..])
        );
    }

    #[test]
    fn cancelled_is_final() {
        assert!(CardStatus::Active.can_become(CardStatus::Frozen));
        assert!(CardStatus::Frozen.can_become(CardStatus::Active));
        assert!(CardStatus::Frozen.can_become(CardStatus::Cancelled));
        assert!(!CardStatus::Cancelled.can_become(CardStatus::Active));
        assert!(!CardStatus::Cancelled.can_become(CardStatus::Frozen));
    }

    proptest! {
        #[test]
        fn every_generated_number_is_luhn_valid(digits in "[0-9]{9}", prefix in "[1-9][0-9]{5}") {
            let number = CardNumber::from_parts(&prefix, &digits).expect("digits");
            prop_assert!(luhn_valid(number.as_str()));
            prop_assert!(number.as_str().starts_with(&prefix));
        }
    }
}
