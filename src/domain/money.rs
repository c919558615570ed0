//! Money: exact integer cents inside, two-decimal strings at the edge.
//!
//! `Amount` is what a client may move in one request (> 0, at most 12 digits with 2 decimals);
//! `Balance` is what an account holds (>= 0, up to `BALANCE_CENTS_MAX`). Parsing follows DRF's
//! `DecimalField(max_digits=12, decimal_places=2, min_value=0.01)` so that clients get the same
//! messages they got from the Django original, but no value ever passes through a float.

use std::fmt;

use crate::limits::{
    AMOUNT_CENTS_MAX, AMOUNT_DECIMAL_PLACES_MAX, AMOUNT_DIGITS_MAX, BALANCE_CENTS_MAX,
};

/// A positive amount of money in cents, at most `AMOUNT_CENTS_MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(i64);

/// A non-negative account balance in cents, at most `BALANCE_CENTS_MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Balance(i64);

/// Why a decimal string was refused; `Display` is DRF's message for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountError {
    Invalid,
    TooManyDigits,
    TooManyDecimalPlaces,
    TooManyWholeDigits,
    NotPositive,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid => write!(f, "A valid number is required."),
            Self::TooManyDigits => write!(
                f,
                "Ensure that there are no more than {AMOUNT_DIGITS_MAX} digits in total."
            ),
            Self::TooManyDecimalPlaces => write!(
                f,
                "Ensure that there are no more than {AMOUNT_DECIMAL_PLACES_MAX} decimal places."
            ),
            Self::TooManyWholeDigits => write!(
                f,
                "Ensure that there are no more than {} digits before the decimal point.",
                AMOUNT_DIGITS_MAX - AMOUNT_DECIMAL_PLACES_MAX
            ),
            Self::NotPositive => write!(f, "Ensure this value is greater than or equal to 0.01."),
        }
    }
}

impl Amount {
    /// Parses a decimal written as text (`"12.50"`, `"0.07"`, `"1e3"`, or a JSON number's
    /// literal) into cents, refusing anything that is not exactly representable in cents or is
    /// not positive.
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let cents = parse_cents(text)?;
        if cents <= 0 {
            return Err(AmountError::NotPositive);
        }
        debug_assert!(cents <= AMOUNT_CENTS_MAX);
        Ok(Self(cents))
    }

    /// The amount in cents (always in `1..=AMOUNT_CENTS_MAX`).
    pub fn cents(self) -> i64 {
        self.0
    }

    /// Builds an amount from stored cents; `None` when out of range.
    pub fn from_cents(cents: i64) -> Option<Self> {
        (1..=AMOUNT_CENTS_MAX)
            .contains(&cents)
            .then_some(Self(cents))
    }
}

/// Parses a non-negative decimal with the amount rules but allows zero: used by filters such as
/// `?min_amount=0`.
pub fn parse_non_negative_cents(text: &str) -> Result<i64, AmountError> {
    parse_cents(text)
}

impl Balance {
    pub const ZERO: Balance = Balance(0);

    /// Builds a balance from stored cents; `None` when negative or above the maximum.
    pub fn from_cents(cents: i64) -> Option<Self> {
        (0..=BALANCE_CENTS_MAX)
            .contains(&cents)
            .then_some(Self(cents))
    }

    pub fn cents(self) -> i64 {
        self.0
    }

    /// The balance after receiving `amount`, or `None` when it would pass the maximum.
    pub fn credit(self, amount: Amount) -> Option<Balance> {
        self.0.checked_add(amount.0).and_then(Balance::from_cents)
    }

    /// The balance after paying out `amount`, or `None` when funds are insufficient.
    pub fn debit(self, amount: Amount) -> Option<Balance> {
        self.0.checked_sub(amount.0).and_then(Balance::from_cents)
    }
}

/// Renders cents as a decimal string with exactly two places: `60025` → `"600.25"`.
pub fn format_cents(cents: i64) -> String {
    Cents(cents).to_string()
}

/// Cents displayed as a decimal with exactly two places, by integer arithmetic (no allocation,
/// no decimal type: a statement renders two of these per row).
#[derive(Clone, Copy, Debug)]
pub struct Cents(pub i64);

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:02}", magnitude / 100, magnitude % 100)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_cents(self.0))
    }
}

impl fmt::Display for Balance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_cents(self.0))
    }
}

/// Digits and exponent of a decimal literal, as Python's `Decimal.as_tuple()` sees them.
struct DecimalParts {
    negative: bool,
    /// Significant digits with leading zeros removed (empty for zero).
    digits: Vec<u8>,
    exponent: i64,
}

/// The longest input we look at; DRF refuses over 1000 characters too.
const DECIMAL_TEXT_CHARS_MAX: usize = 1000;

fn parse_decimal(text: &str) -> Option<DecimalParts> {
    let text = text.trim();
    if text.is_empty() || text.len() > DECIMAL_TEXT_CHARS_MAX {
        return None;
    }
    let (negative, unsigned) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent_text) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (mantissa, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let mut exponent: i64 = match exponent_text {
        None => 0,
        Some(e) => {
            let (sign, e_digits) = match e.as_bytes().first() {
                Some(b'-') => (-1, &e[1..]),
                Some(b'+') => (1, &e[1..]),
                _ => (1, e),
            };
            if e_digits.is_empty() || !all_digits(e_digits) || e_digits.len() > 9 {
                return None;
            }
            sign * e_digits.parse::<i64>().ok()?
        }
    };
    exponent -= fraction.len() as i64;
    let digits: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes())
        .skip_while(|&b| b == b'0')
        .map(|b| b - b'0')
        .collect();
    Some(DecimalParts {
        negative,
        digits,
        exponent,
    })
}

/// DRF's precision rules, then conversion to cents (which the rules guarantee fits an i64).
fn parse_cents(text: &str) -> Result<i64, AmountError> {
    let parts = parse_decimal(text).ok_or(AmountError::Invalid)?;
    // Python keeps one zero digit for 0 ("0.00" is digits (0,), exponent -2).
    let digit_count = parts.digits.len().max(1) as i64;
    let (total_digits, whole_digits, decimal_places) = if parts.exponent >= 0 {
        let total = digit_count + parts.exponent;
        (total, total, 0)
    } else if digit_count > -parts.exponent {
        (digit_count, digit_count + parts.exponent, -parts.exponent)
    } else {
        (-parts.exponent, 0, -parts.exponent)
    };
    if total_digits > i64::from(AMOUNT_DIGITS_MAX) {
        return Err(AmountError::TooManyDigits);
    }
    if decimal_places > i64::from(AMOUNT_DECIMAL_PLACES_MAX) {
        return Err(AmountError::TooManyDecimalPlaces);
    }
    if whole_digits > i64::from(AMOUNT_DIGITS_MAX - AMOUNT_DECIMAL_PLACES_MAX) {
        return Err(AmountError::TooManyWholeDigits);
    }
    let mut cents: i64 = 0;
    for digit in &parts.digits {
        cents = cents * 10 + i64::from(*digit);
    }
    // Scale to cents: the value is digits × 10^exponent, and exponent ≥ -2 here.
    for _ in 0..(parts.exponent + 2) {
        cents *= 10;
    }
    if parts.negative && cents != 0 {
        return Err(AmountError::NotPositive);
    }
    Ok(cents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    #[test]
    fn amounts_are_read_exactly() {
        assert_eq!(Amount::parse("0.07").map(Amount::cents), Ok(7));
        assert_eq!(Amount::parse("600.25").map(Amount::cents), Ok(60025));
        assert_eq!(Amount::parse("12").map(Amount::cents), Ok(1200));
        assert_eq!(Amount::parse("12.5").map(Amount::cents), Ok(1250));
        assert_eq!(Amount::parse(" 1e3 ").map(Amount::cents), Ok(100_000));
        assert_eq!(Amount::parse(".5").map(Amount::cents), Ok(50));
        assert_eq!(
            Amount::parse("9999999999.99").map(Amount::cents),
            Ok(AMOUNT_CENTS_MAX)
        );
    }

    #[test]
    fn bad_amounts_get_drf_messages() {
        assert_eq!(Amount::parse("0"), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse("0.00"), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse("-5"), Err(AmountError::NotPositive));
        assert_eq!(
            Amount::parse("1.005"),
            Err(AmountError::TooManyDecimalPlaces)
        );
        assert_eq!(
            Amount::parse("1.500"),
            Err(AmountError::TooManyDecimalPlaces)
        );
        assert_eq!(
            Amount::parse("10000000000"),
            Err(AmountError::TooManyWholeDigits)
        );
        assert_eq!(
            Amount::parse("99999999999.99"),
            Err(AmountError::TooManyDigits)
        );
        assert_eq!(
            Amount::parse("1e999999999"),
            Err(AmountError::TooManyDigits)
        );
        for bad in [
            "", " ", "NaN", "inf", "Infinity", "1,5", "1.2.3", "abc", "--1", "1e", ".",
        ] {
            assert_eq!(Amount::parse(bad), Err(AmountError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn cents_render_with_two_decimals() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(7), "0.07");
        assert_eq!(format_cents(60025), "600.25");
        assert_eq!(format_cents(BALANCE_CENTS_MAX), "9999999999999999.99");
    }

    #[test]
    fn balance_arithmetic_refuses_overdraft_and_overflow() {
        let ten = Amount::parse("10").expect("valid");
        assert_eq!(Balance::ZERO.debit(ten), None);
        let max = Balance::from_cents(BALANCE_CENTS_MAX).expect("valid");
        assert_eq!(max.credit(ten), None);
        assert_eq!(Balance::ZERO.credit(ten).map(Balance::cents), Some(1000));
    }

    proptest! {
        #[test]
        fn every_valid_amount_round_trips_through_its_text(cents in 1..=AMOUNT_CENTS_MAX) {
            let text = format_cents(cents);
            prop_assert_eq!(Amount::parse(&text).map(Amount::cents), Ok(cents));
        }

        #[test]
        fn cents_render_exactly_as_a_two_place_decimal(cents in any::<i64>()) {
            prop_assert_eq!(format_cents(cents), Decimal::new(cents, 2).to_string());
        }

        #[test]
        fn parsing_never_panics_and_never_goes_out_of_range(text in "\\PC{0,40}") {
            if let Ok(amount) = Amount::parse(&text) {
                prop_assert!((1..=AMOUNT_CENTS_MAX).contains(&amount.cents()));
            }
        }

        #[test]
        fn credit_then_debit_is_identity(start in 0..=BALANCE_CENTS_MAX / 2, cents in 1..=AMOUNT_CENTS_MAX) {
            let balance = Balance::from_cents(start).expect("in range");
            let amount = Amount::from_cents(cents).expect("in range");
            let credited = balance.credit(amount).expect("no overflow at half");
            prop_assert_eq!(credited.debit(amount), Some(balance));
        }
    }
}
