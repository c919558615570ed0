//! The audit hash chain itself, with no database in it: the canonical encoding of a row, the
//! hash that links it to the row before, and the walk that checks a chain row by row.
//!
//! Every backend stores the same chain (`bankd copy` moves it 1:1 and it must still verify), so
//! the bytes a hash covers are defined once, here: SQLite's `record` and `verify_chain` and
//! PostgreSQL's sealer and `verify` all call these functions. Changing anything here changes
//! every hash ever written; old chains would stop verifying.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the chain's first row.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Every column but the hashes, in order: what a row's hash covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalRow {
    pub id: i64,
    pub created_at: String,
    pub actor_user_id: Option<i64>,
    pub client_ip: String,
    pub request_id: String,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<i64>,
    pub outcome: String,
    /// The details exactly as stored (JSON text).
    pub details: String,
    /// SQLite migration V5's column. Rows without it encode exactly as rows written before it
    /// existed, so older chains still verify; rows with it cover it in their hash.
    pub client_request_id: Option<String>,
}

impl CanonicalRow {
    /// A JSON array of the columns: unambiguous (strings are quoted and escaped) and stable.
    pub fn encode(&self) -> String {
        let mut columns = json!([
            self.id,
            self.created_at,
            self.actor_user_id,
            self.client_ip,
            self.request_id,
            self.action,
            self.object_type,
            self.object_id,
            self.outcome,
            self.details
        ]);
        if let (Some(client_request_id), Value::Array(columns)) =
            (&self.client_request_id, &mut columns)
        {
            columns.push(Value::String(client_request_id.clone()));
        }
        columns.to_string()
    }
}

/// `sha256(prev_hash || canonical row)`.
pub fn chain_hash(prev_hash: &[u8], row: &CanonicalRow) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(row.encode().as_bytes());
    hasher.finalize().into()
}

/// The chain's last row, which an operator can record outside the database (e.g. with each
/// backup) and later pass to `verify`: a chain alone cannot show that rows were cut off its
/// end, but a recorded head that is no longer there can.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub id: i64,
    pub hash: [u8; 32],
}

impl ChainHead {
    /// Parses `ID:HEX_HASH`, the form `bankd verify` prints.
    pub fn parse(text: &str) -> Option<Self> {
        let (id, hash) = text.split_once(':')?;
        let id = id.parse().ok().filter(|id: &i64| *id > 0)?;
        let hash = hex::decode(hash).ok()?.try_into().ok()?;
        Some(Self { id, hash })
    }
}

impl std::fmt::Display for ChainHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.id, hex::encode(self.hash))
    }
}

/// Checks a chain fed to it row by row in id order, from its first row: ids run 1, 2, 3…,
/// each `prev_hash` is the row before's hash, each hash is recomputed, and a recorded head, if
/// given, is still there with its hash. The messages name the first broken row; a backend
/// only reads rows and reports what this says.
pub struct ChainWalk<'a> {
    recorded: Option<&'a ChainHead>,
    expected_prev: Vec<u8>,
    expected_id: i64,
    count: u64,
}

impl<'a> ChainWalk<'a> {
    pub fn new(recorded: Option<&'a ChainHead>) -> Self {
        Self {
            recorded,
            expected_prev: GENESIS_HASH.to_vec(),
            expected_id: 1,
            count: 0,
        }
    }

    /// The next row in id order, with its stored hashes; `Err` describes the broken link.
    pub fn step(
        &mut self,
        row: &CanonicalRow,
        prev_hash: &[u8],
        hash: &[u8],
    ) -> Result<(), String> {
        if row.id != self.expected_id {
            return Err(format!(
                "audit chain broken: expected row {}, found row {} (rows deleted or renumbered)",
                self.expected_id, row.id
            ));
        }
        if prev_hash != self.expected_prev {
            return Err(format!(
                "audit chain broken at row {}: prev_hash does not match row {}",
                row.id,
                row.id - 1
            ));
        }
        if hash != chain_hash(prev_hash, row) {
            return Err(format!(
                "audit chain broken at row {}: the row was modified after it was written",
                row.id
            ));
        }
        if let Some(recorded) = self.recorded
            && recorded.id == row.id
            && recorded.hash.as_slice() != hash
        {
            return Err(format!(
                "audit row {} does not have the recorded hash: history was rewritten",
                row.id
            ));
        }
        self.expected_prev = hash.to_vec();
        self.expected_id += 1;
        self.count += 1;
        Ok(())
    }

    /// After the last row: the number of rows and the head, or `Err` when the recorded head is
    /// past the chain's end (rows were cut off).
    pub fn finish(self) -> Result<(u64, Option<ChainHead>), String> {
        let head = (self.count > 0).then(|| ChainHead {
            id: self.expected_id - 1,
            hash: self.expected_prev.clone().try_into().unwrap_or([0; 32]),
        });
        if let Some(recorded) = self.recorded
            && recorded.id >= self.expected_id
        {
            return Err(format!(
                "audit chain ends at row {} but row {} was recorded earlier: rows were removed from its end",
                self.expected_id - 1,
                recorded.id
            ));
        }
        Ok((self.count, head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(client_request_id: Option<&str>) -> CanonicalRow {
        CanonicalRow {
            id: 1,
            created_at: "2026-01-02T00:00:00.000000Z".to_owned(),
            actor_user_id: Some(7),
            client_ip: "127.0.0.1".to_owned(),
            request_id: "r1".to_owned(),
            action: "deposit".to_owned(),
            object_type: Some("account".to_owned()),
            object_id: Some(3),
            outcome: "success".to_owned(),
            details: r#"{"amount":"1.00"}"#.to_owned(),
            client_request_id: client_request_id.map(str::to_owned),
        }
    }

    #[test]
    fn the_encoding_is_pinned_because_every_stored_hash_covers_it() {
        assert_eq!(
            row(None).encode(),
            r#"[1,"2026-01-02T00:00:00.000000Z",7,"127.0.0.1","r1","deposit","account",3,"success","{\"amount\":\"1.00\"}"]"#
        );
        assert_eq!(
            row(Some("c1")).encode(),
            r#"[1,"2026-01-02T00:00:00.000000Z",7,"127.0.0.1","r1","deposit","account",3,"success","{\"amount\":\"1.00\"}","c1"]"#
        );
    }

    #[test]
    fn a_walk_names_the_first_row_whose_hash_is_wrong() {
        let first = row(None);
        let hash = chain_hash(&GENESIS_HASH, &first);
        let second = CanonicalRow { id: 2, ..row(None) };
        let mut walk = ChainWalk::new(None);
        walk.step(&first, &GENESIS_HASH, &hash)
            .expect("row 1 links");
        let error = walk
            .step(&second, &hash, &[0; 32])
            .expect_err("row 2's hash is wrong");
        assert!(error.contains("at row 2"), "{error}");
    }
}
