//! Passwords and tokens.
//!
//! Passwords are hashed with argon2id at OWASP's recommended parameters (19 MiB, 2 passes,
//! 1 lane) on dedicated threads, never on the async runtime, with bounded concurrency and at a
//! lower CPU priority, so a login storm cannot take a core from money movement. Tokens are 160 bits from the OS
//! CSPRNG, shown to the client once as 40 hex characters, and stored only as their SHA-256.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rustix::process::setpriority_process;
use rustix::thread::gettid;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::error::ApiError;

pub mod cache;
pub mod watch;

use crate::limits::TOKEN_BYTES;
pub use cache::{AuthCache, CachedOwner, Epoch, USER_CACHE_SECONDS};

/// OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
const ARGON2_MEMORY_KIB: u32 = 19_456;
const ARGON2_ITERATIONS: u32 = 2;
const ARGON2_LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    // The parameters are constants within argon2's documented ranges.
    let params =
        Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// An argon2id hash, with the same parameters, of a random 64-character secret nobody kept.
/// It is verified against when the username does not exist, so that a wrong username costs the
/// same time as a wrong password; the answer is a failure whatever the password. A constant
/// (rather than hashing at start-up) keeps start-up fast and its 19 MiB out of idle memory.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$09qcNpplHZprIZlnLa4pMA$mpCrv+c67KMje5n8ZZqzceFokPq5cWsc6XQQkajo030";

/// How much lower than the rest of the server the hashing threads run (Linux `nice`).
const HASH_THREAD_NICE: i32 = 10;

type HashJob = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords on its own threads, `threads` at a time, at a lower CPU
/// priority than everything else: argon2 is built to burn a core for tens of milliseconds, and
/// a login storm must not take that core from money movement. When nothing else wants the CPU
/// the hashes run at full speed; when transfers do, the scheduler gives them the core first.
#[derive(Clone)]
pub struct PasswordHasherPool {
    jobs: Arc<Sender<HashJob>>,
}

impl PasswordHasherPool {
    pub fn new(threads: usize) -> Result<Self, String> {
        let (jobs, receiver) = std::sync::mpsc::channel::<HashJob>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads.max(1) {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("bankd-hash-{n}"))
                .spawn(move || hash_thread(&receiver))
                .map_err(|e| format!("cannot start a password hashing thread: {e}"))?;
        }
        Ok(Self {
            jobs: Arc::new(jobs),
        })
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || hash_blocking(&password)).await?
    }

    /// Checks a password against a stored hash, or against a dummy hash when there is no user
    /// (`stored = None`), which always fails but takes the same time.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        self.run(move || {
            let hash = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
            verify_blocking(&password, &hash)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = reply.send(work());
            }))
            .map_err(|_| ApiError::internal("password hashing stopped"))?;
        answer
            .await
            .map_err(|_| ApiError::internal("a password hashing job failed"))
    }
}

/// A hashing thread: lowers its own priority, then runs jobs until the pool is dropped.
fn hash_thread(jobs: &Mutex<Receiver<HashJob>>) {
    // On Linux a thread is a task with its own id and nice value: this lowers this thread only.
    if let Err(error) = setpriority_process(Some(gettid()), HASH_THREAD_NICE) {
        tracing::warn!(%error, "cannot lower the priority of password hashing");
    }
    loop {
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A panicking job drops its reply (the caller gets a 500); the thread carries on.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

/// Hashes on the current thread; for the CLI and the blocking pool only.
pub fn hash_blocking(password: &str) -> Result<String, ApiError> {
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).map_err(|e| ApiError::internal(format!("OS random: {e}")))?;
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| ApiError::internal(format!("salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::internal(format!("argon2: {e}")))
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A freshly drawn token (shown to the client once) and its stored hash.
pub struct NewToken {
    pub token: String,
    pub sha256: [u8; 32],
}

pub fn new_token() -> Result<NewToken, ApiError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("OS random: {e}")))?;
    let token = hex::encode(bytes);
    let sha256 = token_sha256(&token);
    Ok(NewToken { token, sha256 })
}

/// The stored form of a token.
pub fn token_sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_40_lowercase_hex_and_distinct() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert_eq!(a.token.len(), 40);
        assert!(
            a.token
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
        assert_ne!(a.token, b.token);
        assert_eq!(a.sha256, token_sha256(&a.token));
    }

    #[test]
    fn the_dummy_hash_has_the_live_parameters_and_matches_nothing() {
        let live = hash_blocking("x").expect("hash");
        let params = |hash: &str| hash.split('$').nth(3).map(str::to_owned);
        assert_eq!(params(DUMMY_HASH), params(&live));
        assert!(!verify_blocking("", DUMMY_HASH));
        assert!(!verify_blocking("password", DUMMY_HASH));
    }

    #[test]
    fn hashes_verify_only_their_password() {
        let hash = hash_blocking("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_blocking("correct horse", &hash));
        assert!(!verify_blocking("wrong horse", &hash));
        assert!(!verify_blocking("correct horse", "not a hash"));
    }
}
