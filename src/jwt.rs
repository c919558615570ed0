//! JSON Web Tokens in djangorestframework-simplejwt's shape: HS256, claims `token_type`
//! (`access` | `refresh`), `exp`, `iat`, `jti`, `user_id`, plus bankd's `auth_generation`: the
//! user's revocation count when the token was issued. A password change moves the user's count
//! on, and a token carrying an older one is refused (`http/extract/auth.rs`), which revokes
//! stateless tokens without a blacklist. Tokens from before the claim existed read as 0.
//!
//! Only HS256 is accepted: the header's `alg` must say so, which rules out `none` and
//! algorithm-confusion tricks. Signatures are compared in constant time by `hmac`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::Secret;

/// Which kind of JWT; one can never be used as the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub user_id: i64,
    /// The user's `auth_generation` at issue; see the module documentation.
    #[serde(default)]
    pub auth_generation: i64,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

#[derive(Deserialize)]
struct Header {
    alg: String,
}

fn mac(secret: &Secret) -> Option<Hmac<Sha256>> {
    Hmac::<Sha256>::new_from_slice(secret.expose()).ok()
}

/// Who a token is for: the user and its current `auth_generation`.
#[derive(Clone, Copy, Debug)]
pub struct Subject {
    pub user_id: i64,
    pub auth_generation: i64,
}

/// Signs a new token for `subject`, valid for `ttl_seconds` from `now`.
pub fn issue(
    secret: &Secret,
    token_type: TokenType,
    subject: Subject,
    now: i64,
    ttl_seconds: u64,
) -> Option<String> {
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).ok()?;
    let claims = Claims {
        token_type,
        exp: now.saturating_add(i64::try_from(ttl_seconds).unwrap_or(i64::MAX)),
        iat: now,
        jti: hex::encode(jti),
        user_id: subject.user_id,
        auth_generation: subject.auth_generation,
    };
    let payload = serde_json::to_vec(&claims).ok()?;
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = mac(secret)?;
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    Some(format!("{signing_input}.{signature}"))
}

/// The claims of a well-signed, unexpired token of the expected type; `None` otherwise.
pub fn verify(secret: &Secret, token: &str, expected: TokenType, now: i64) -> Option<Claims> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.alg != "HS256" {
        return None;
    }
    let mut mac = mac(secret)?;
    mac.update(&token.as_bytes()[..token.len() - signature.len() - 1]);
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?)
        .ok()?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (claims.token_type == expected && claims.exp > now).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_7: Subject = Subject {
        user_id: 7,
        auth_generation: 0,
    };

    fn secret() -> Secret {
        Secret::new(b"0123456789abcdef0123456789abcdef".to_vec())
    }

    #[test]
    fn a_token_verifies_only_as_its_own_type_and_before_expiry() {
        let token = issue(&secret(), TokenType::Access, USER_7, 1_000, 300).expect("token");
        let claims = verify(&secret(), &token, TokenType::Access, 1_299).expect("valid");
        assert_eq!(claims.user_id, 7);
        assert!(verify(&secret(), &token, TokenType::Refresh, 1_299).is_none());
        assert!(verify(&secret(), &token, TokenType::Access, 1_300).is_none());
    }

    #[test]
    fn tampering_and_other_keys_are_refused() {
        let token = issue(&secret(), TokenType::Access, USER_7, 1_000, 300).expect("token");
        let other = Secret::new(b"another-secret-another-secret-xx".to_vec());
        assert!(verify(&other, &token, TokenType::Access, 1_001).is_none());
        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD
            .encode(r#"{"token_type":"access","exp":99999999999,"iat":0,"jti":"x","user_id":1}"#);
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert!(verify(&secret(), &forged, TokenType::Access, 1_001).is_none());
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(verify(&secret(), &unsigned, TokenType::Access, 1_001).is_none());
        assert!(verify(&secret(), "garbage", TokenType::Access, 1_001).is_none());
    }
}
