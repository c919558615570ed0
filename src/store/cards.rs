//! Cards (contract §6): the card row, the issue and change commands, and the `Store` methods
//! that run them.
//!
//! Secrets: a [`Card`] row never holds the full number or the CVV (the database keeps only
//! their HMACs and the last four digits). They exist in exactly one value, [`IssuedCard`], which
//! is built once by the issue command, handed to the `201` answer and dropped; it derives
//! neither `Debug` nor `Serialize`, and its parts redact themselves in `Debug`
//! (`CardNumber`, [`Cvv`]), so no log line or other response can carry them.

use crate::config::Secret;
use crate::domain::Amount;
use crate::domain::card::{CardNumber, CardStatus, CardType};
use crate::error::ApiError;
use crate::store::audit::AuditContext;
use crate::store::ids::{AccountId, AuditId, CardId, UserId};
use crate::store::{PageWindow, Store, sqlite};

/// One card, decoded strictly from its row (a status, type, expiry or limit the domain refuses
/// is an internal error, never a default).
#[derive(Clone, Debug)]
pub struct Card {
    pub id: CardId,
    pub account: AccountId,
    pub card_type: CardType,
    /// The last four digits of the number: all of it that is kept in clear.
    pub last4: String,
    /// 1 to 12.
    pub expiry_month: u32,
    pub expiry_year: i32,
    pub status: CardStatus,
    /// A credit card's limit; `None` for a debit card.
    pub credit_limit: Option<Amount>,
    pub created_at: String,
}

/// A card's three-digit verification code, shown once at issue. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvv(String);

impl Cvv {
    /// Wraps freshly drawn digits (only the issue command draws them).
    pub(crate) fn new(digits: String) -> Self {
        Self(digits)
    }

    /// The digits, for the one answer that shows them.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Cvv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cvv(***)")
    }
}

/// A card just issued, with the secrets the `201` shows once, and the id of its audit row.
pub struct IssuedCard {
    pub card: Card,
    pub number: CardNumber,
    pub cvv: Cvv,
    pub audit_id: AuditId,
}

/// The card rules from configuration (`cards.*`).
#[derive(Clone, Debug)]
pub struct CardRules {
    /// The six-digit issuer prefix every number starts with.
    pub iin_prefix: String,
    pub validity_years: u32,
    /// Most cards that are not cancelled on one account.
    pub max_per_account: u32,
}

/// Issue a card on one of `user`'s active accounts, audited as `card_issued`.
pub struct IssueCard {
    pub user: UserId,
    pub account: AccountId,
    pub card_type: CardType,
    /// Required for a credit card, refused for a debit card (checked at the HTTP edge).
    pub credit_limit: Option<Amount>,
    pub rules: CardRules,
    /// The key the number and CVV are hashed under (`cards.hash_key`).
    pub hash_key: Secret,
    pub audit: AuditContext,
}

/// Change one of `user`'s cards: its status (active ⇄ frozen, or → cancelled) and/or a credit
/// card's limit, audited as `card_updated` or `card_cancelled`.
pub struct ChangeCard {
    pub user: UserId,
    pub card: CardId,
    pub status: Option<CardStatus>,
    pub credit_limit: Option<Amount>,
    pub audit: AuditContext,
}

impl Store {
    /// Issues a card with a fresh number and CVV and records its audit row in the same
    /// transaction. Refuses an account that is not the user's (a field error on `account`),
    /// closed or frozen, or that already has `max_per_account` live cards.
    pub async fn issue_card(&self, command: IssueCard) -> Result<IssuedCard, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::cards::issue(conn, &command))
                    .await
            }
        }
    }

    /// One of `user`'s cards, else `404`. A by-key read.
    pub async fn find_card(&self, user: UserId, id: CardId) -> Result<Card, ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read_point(move |conn| sqlite::cards::find_by_id_and_owner(conn, id, user))
                    .await
            }
        }
    }

    /// One page of `user`'s cards, oldest first, and how many there are.
    pub async fn list_cards(
        &self,
        user: UserId,
        window: PageWindow,
    ) -> Result<(u64, Vec<Card>), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.read(move |conn| sqlite::cards::list_for_user(conn, user, window))
                    .await
            }
        }
    }

    /// Applies a change and records its audit row in the same transaction; returns the card
    /// as it now is and the audit id. Refuses a cancelled card and a limit on a debit card.
    pub async fn change_card(&self, command: ChangeCard) -> Result<(Card, AuditId), ApiError> {
        match self {
            Self::Sqlite(db) => {
                db.write(move |conn| sqlite::cards::change(conn, &command))
                    .await
            }
        }
    }
}
