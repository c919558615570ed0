//! Accounts: their numbers, types and statuses, and the kinds of ledger rows.

use std::fmt;

use crate::limits::ACCOUNT_NUMBER_DIGITS;

/// `ACC-` followed by exactly nine ASCII digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountNumber(String);

const ACCOUNT_NUMBER_PREFIX: &str = "ACC-";

impl AccountNumber {
    /// Accepts only the canonical form; anything else is not an account number.
    pub fn parse(text: &str) -> Option<Self> {
        let digits = text.strip_prefix(ACCOUNT_NUMBER_PREFIX)?;
        (digits.len() == ACCOUNT_NUMBER_DIGITS && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(text.to_owned()))
    }

    /// Builds a number from a uniformly drawn value below 10^9.
    pub fn from_draw(draw: u32) -> Self {
        debug_assert!(draw < 1_000_000_000);
        Self(format!("{ACCOUNT_NUMBER_PREFIX}{draw:09}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Declares a closed set of lowercase string values with `parse`, `as_str` and `ALL`.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// What kind of account; `checking` when the client does not say.
    AccountType { Checking => "checking", Savings => "savings", Business => "business" }
);

string_enum!(
    /// `active` accounts move money; `frozen` ones (by staff) refuse every movement until
    /// unfrozen; `closed` ones refuse everything but keep their history.
    AccountStatus { Active => "active", Frozen => "frozen", Closed => "closed" }
);

string_enum!(
    /// The kind of a ledger row.
    TransactionType {
        Deposit => "deposit",
        Withdrawal => "withdrawal",
        TransferOut => "transfer_out",
        TransferIn => "transfer_in",
    }
);

string_enum!(
    /// Gender as the original API stored it.
    Gender { Male => "M", Female => "F", Other => "O" }
);

impl TransactionType {
    /// Whether this kind of row adds money to its account.
    pub fn is_credit(self) -> bool {
        matches!(self, Self::Deposit | Self::TransferIn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn account_numbers_must_be_canonical() {
        assert!(AccountNumber::parse("ACC-123456789").is_some());
        for bad in [
            "ACC-12345678",
            "ACC-1234567890",
            "acc-123456789",
            "ACC-12345678a",
            "",
            "ACC-",
        ] {
            assert!(AccountNumber::parse(bad).is_none(), "{bad:?}");
        }
        assert!(AccountNumber::parse("ACC-١٢٣٤٥٦٧٨٩").is_none());
    }

    #[test]
    fn enums_round_trip() {
        for kind in TransactionType::ALL {
            assert_eq!(TransactionType::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(AccountType::parse("Checking"), None);
    }

    proptest! {
        #[test]
        fn every_draw_makes_a_parseable_number(draw in 0u32..1_000_000_000) {
            let number = AccountNumber::from_draw(draw);
            prop_assert_eq!(AccountNumber::parse(number.as_str()), Some(number));
        }
    }
}
