//! Cryptographic building blocks: random tokens, hashing, sealing secrets.
//!
//! Owns the choice of primitives (CSPRNG `OsRng`, SHA-256, AES-256-GCM with a
//! key derived from `APP_SECRET`) so the rest of the code never handles raw
//! key material. Must not log anything it is given.
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// `n` bytes from the OS CSPRNG, URL-safe base64 without padding.
pub fn random_url_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A 256-bit bearer token.
pub fn new_access_token() -> String {
    random_url_token(32)
}

pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Seals and opens small secrets (the users' Mistral keys) with AES-256-GCM.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the stored secret is malformed")]
    Malformed,
    #[error("the stored secret failed authentication (tampered, or APP_SECRET changed)")]
    Tampered,
}

impl SecretBox {
    /// Derives the 256-bit key from the application secret. A domain label keeps
    /// this key distinct from any other use of the same secret.
    pub fn new(app_secret: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"mistralchat/secret-box/v1\0");
        h.update(app_secret.as_bytes());
        let key = h.finalize();
        Self {
            cipher: Aes256Gcm::new(&key),
        }
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        // Encryption with a fresh 96-bit nonce cannot fail for inputs this small.
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let raw = STANDARD.decode(sealed).map_err(|_| SealError::Malformed)?;
        if raw.len() < 12 + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| SealError::Tampered)?;
        String::from_utf8(pt).map_err(|_| SealError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_unique() {
        let a = new_access_token();
        let b = new_access_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn sha256_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn seal_round_trips_and_detects_tampering() {
        let b = SecretBox::new("an application secret");
        let sealed = b.seal("sk-abc123");
        assert!(!sealed.contains("sk-abc123"));
        assert_eq!(b.open(&sealed).unwrap(), "sk-abc123");
        assert_ne!(b.seal("sk-abc123"), sealed, "nonces must differ");

        let mut raw = STANDARD.decode(&sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(b.open(&STANDARD.encode(&raw)), Err(SealError::Tampered));
        assert_eq!(b.open("!!"), Err(SealError::Malformed));
        assert_eq!(
            SecretBox::new("another secret").open(&sealed),
            Err(SealError::Tampered)
        );
    }
}
