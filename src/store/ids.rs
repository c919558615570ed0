//! Typed row ids: an `AccountId` cannot be passed where a `UserId` is expected.
//!
//! Each is the database's integer id, unchanged on the wire (serialized as the bare number, as
//! the contract's `id`, `customer`, `transaction_id` fields are). The conversions to and from
//! the backend's column types live with each backend (`sqlite/ids.rs`).

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// An id read from a trusted place: a row, a token, a route already parsed as a
            /// positive integer.
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            /// The raw integer, for the backend's parameters and for logs.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

ids! {
    /// A login (`users.id`).
    UserId,
    /// A customer profile (`customers.id`).
    CustomerId,
    /// An account (`accounts.id`).
    AccountId,
    /// One ledger row (`transactions.id`).
    TransactionId,
    /// One transfer, whose two legs are ledger rows (`transfers.id`).
    TransferId,
    /// A card (`cards.id`).
    CardId,
    /// A stored statement (`statements.id`).
    StatementId,
    /// One audit row (`audit_log.id`).
    AuditId,
}
