//! The AEAD underneath: AES-256-GCM from `ring` (already in the build through rustls), a fresh
//! random 96-bit nonce per sealing. A field travels as `kkenc1:` + base64(nonce ‖ ciphertext ‖
//! tag), so it stays an Avro `string` and every kept schema version still reads it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The marker of a sealed field; a value without it is plain (a record from before).
pub const MARKER: &str = "kkenc1:";

/// Bytes of a key (data key or master key).
pub const KEY_LEN: usize = 32;

/// A 256-bit symmetric key. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; KEY_LEN]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// Wrong key, wrong associated data (another request or field), or altered bytes.
    #[error("cannot open: wrong key, wrong binding or altered ciphertext")]
    Tampered,
    #[error("not a sealed value")]
    Malformed,
    #[error("no randomness from the system")]
    Random,
}

impl Key {
    /// A fresh random key.
    pub fn generate() -> Result<Key, SealError> {
        let mut k = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut k)
            .map_err(|_| SealError::Random)?;
        Ok(Key(k))
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Key> {
        Some(Key(bytes.try_into().ok()?))
    }

    pub fn from_base64(text: &str) -> Option<Key> {
        Key::from_bytes(&B64.decode(text.trim()).ok()?)
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte key"))
    }

    /// nonce ‖ ciphertext ‖ tag of `plain`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut sealed = plain.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed,
            )
            .map_err(|_| SealError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plaintext of [`Key::seal`]'s output, if this key sealed it with this `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Malformed);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Malformed)?;
        let mut buf = rest.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| SealError::Tampered)?;
        Ok(plain.to_vec())
    }

    /// A text field sealed: `kkenc1:` + base64.
    pub fn seal_text(&self, aad: &[u8], plain: &str) -> Result<String, SealError> {
        Ok(format!(
            "{MARKER}{}",
            B64.encode(self.seal(aad, plain.as_bytes())?)
        ))
    }

    /// The text of a [`Key::seal_text`] value.
    pub fn open_text(&self, aad: &[u8], value: &str) -> Result<String, SealError> {
        let body = value.strip_prefix(MARKER).ok_or(SealError::Malformed)?;
        let sealed = B64.decode(body).map_err(|_| SealError::Malformed)?;
        String::from_utf8(self.open(aad, &sealed)?).map_err(|_| SealError::Malformed)
    }
}

/// Whether `value` is a sealed field.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(MARKER)
}

pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub(crate) fn b64_decode(text: &str) -> Option<Vec<u8>> {
    B64.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_field_opens_with_its_key_and_binding_and_hides_the_text() {
        let key = Key::generate().unwrap();
        let sealed = key.seal_text(b"req-1\0customer_name", "山田 太郎").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("山田"));
        assert_eq!(
            key.open_text(b"req-1\0customer_name", &sealed).unwrap(),
            "山田 太郎"
        );
        let again = key.seal_text(b"req-1\0customer_name", "山田 太郎").unwrap();
        assert_ne!(sealed, again, "a fresh nonce each time");
    }

    #[test]
    fn a_sealed_field_does_not_open_with_another_binding_or_key() {
        let key = Key::generate().unwrap();
        let sealed = key.seal_text(b"req-1\0customer_name", "山田 太郎").unwrap();
        assert_eq!(
            key.open_text(b"req-2\0customer_name", &sealed),
            Err(SealError::Tampered)
        );
        assert_eq!(
            key.open_text(b"req-1\0customer_phone", &sealed),
            Err(SealError::Tampered)
        );
        let other = Key::generate().unwrap();
        assert_eq!(
            other.open_text(b"req-1\0customer_name", &sealed),
            Err(SealError::Tampered)
        );
    }

    #[test]
    fn an_altered_ciphertext_is_refused() {
        let key = Key::generate().unwrap();
        let mut raw = key.seal(b"aad", b"secret").unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(key.open(b"aad", &raw), Err(SealError::Tampered));
        assert_eq!(key.open(b"aad", &raw[..5]), Err(SealError::Malformed));
        assert_eq!(
            key.open_text(b"aad", "kkenc1:not base64!"),
            Err(SealError::Malformed)
        );
    }
}
