//! cosign's key files.
//!
//! Private key: PEM `ENCRYPTED SIGSTORE PRIVATE KEY` (or the older `ENCRYPTED
//! COSIGN PRIVATE KEY`) whose body is compact JSON:
//! `{"kdf":{"name":"scrypt","params":{"N":..,"r":8,"p":1},"salt":..},"cipher":{"name":"nacl/secretbox","nonce":..},"ciphertext":..}`.
//! The key is scrypt(password, salt, N, 8, 1, 32 bytes); the plaintext, sealed
//! with XSalsa20-Poly1305, is the PKCS#8 DER of a P-256 key.
//! Public key: PEM `PUBLIC KEY` holding the SubjectPublicKeyInfo DER.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use serde::{Deserialize, Serialize};

pub const SIGSTORE_PRIVATE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
pub const COSIGN_PRIVATE_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
pub const PUBLIC_LABEL: &str = "PUBLIC KEY";

/// scrypt work factor we write: every cosign version and peer reads it.
pub const WRITE_SCRYPT_LOG_N: u8 = 15;
/// Work factors we accept on read: N = 32768, 65536, 131072 (as cosign >= 2.2).
const ACCEPTED_LOG_N: [u8; 3] = [15, 16, 17];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a PEM file ({0})")]
    NotPem(String),
    #[error(
        "unsupported PEM type {found:?}: expected \"{SIGSTORE_PRIVATE_LABEL}\" or \"{COSIGN_PRIVATE_LABEL}\""
    )]
    WrongPrivateLabel { found: String },
    #[error("unsupported PEM type {found:?}: expected \"{PUBLIC_LABEL}\"")]
    WrongPublicLabel { found: String },
    #[error("the encrypted key is not valid cosign key JSON: {0}")]
    BadEnvelope(String),
    #[error(
        "unsupported scrypt parameters N={n} r={r} p={p} (accepted: N=32768, 65536 or 131072 with r=8, p=1)"
    )]
    UnsupportedKdf { n: u64, r: u32, p: u32 },
    #[error("unsupported key derivation {0:?} (expected \"scrypt\")")]
    UnsupportedKdfName(String),
    #[error("unsupported cipher {0:?} (expected \"nacl/secretbox\")")]
    UnsupportedCipher(String),
    #[error("wrong password or corrupted key (decryption failed)")]
    WrongPassword,
    #[error(
        "the decrypted key is not PKCS#8 (a SEC1 \"EC PRIVATE KEY\" plaintext is refused, as cosign does)"
    )]
    NotPkcs8,
    #[error("the key is not an ECDSA P-256 key: {0}")]
    NotP256(String),
    #[error("the public key is not a valid P-256 SubjectPublicKeyInfo: {0}")]
    BadPublicKey(String),
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// A new random P-256 key.
pub fn generate() -> SigningKey {
    SigningKey::generate()
}

fn derive(password: &[u8], salt: &[u8], log_n: u8) -> Result<[u8; 32], KeyError> {
    let params = scrypt::Params::new(log_n, 8, 1)
        .map_err(|e| KeyError::BadEnvelope(format!("scrypt parameters: {e}")))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password, salt, &params, &mut key)
        .map_err(|e| KeyError::BadEnvelope(format!("scrypt: {e}")))?;
    Ok(key)
}

fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS random source failing is not something a user can fix or we can
    // work around; there is no safe fallback for key material.
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf
}

fn pem_lf(label: &str, der: &[u8]) -> String {
    let p = pem::Pem::new(label, der.to_vec());
    pem::encode_config(
        &p,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// Encrypt `key` as cosign does, under `label` (normally [`SIGSTORE_PRIVATE_LABEL`]).
pub fn encrypt_private_key(
    key: &SigningKey,
    password: &[u8],
    label: &str,
) -> Result<String, KeyError> {
    let der = key
        .to_pkcs8_der()
        .map_err(|e| KeyError::NotP256(e.to_string()))?;
    let salt: [u8; 32] = random();
    let nonce: [u8; 24] = random();
    let secret = derive(password, &salt, WRITE_SCRYPT_LOG_N)?;
    let cipher = XSalsa20Poly1305::new(&secret.into());
    let sealed = cipher
        .encrypt(&nonce.into(), der.as_bytes())
        .map_err(|_| KeyError::BadEnvelope("encryption failed".into()))?;
    let envelope = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                n: 1 << WRITE_SCRYPT_LOG_N,
                r: 8,
                p: 1,
            },
            salt: B64.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: B64.encode(nonce),
        },
        ciphertext: B64.encode(sealed),
    };
    let json = serde_json::to_vec(&envelope).map_err(|e| KeyError::BadEnvelope(e.to_string()))?;
    Ok(pem_lf(label, &json))
}

/// The parsed envelope of a private key file, before any password is tried.
pub struct EncryptedKey {
    log_n: u8,
    salt: Vec<u8>,
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

/// Parse a private key file's PEM and JSON envelope (cheap; no scrypt).
pub fn parse_private_key(text: &[u8]) -> Result<EncryptedKey, KeyError> {
    let block = pem::parse(text).map_err(|e| KeyError::NotPem(e.to_string()))?;
    let label = block.tag().to_string();
    if label != SIGSTORE_PRIVATE_LABEL && label != COSIGN_PRIVATE_LABEL {
        return Err(KeyError::WrongPrivateLabel { found: label });
    }
    let env: Envelope = serde_json::from_slice(block.contents())
        .map_err(|e| KeyError::BadEnvelope(e.to_string()))?;
    if env.kdf.name != "scrypt" {
        return Err(KeyError::UnsupportedKdfName(env.kdf.name));
    }
    let ScryptParams { n, r, p } = env.kdf.params;
    let log_n = ACCEPTED_LOG_N
        .iter()
        .copied()
        .find(|l| 1u64 << l == n)
        .filter(|_| r == 8 && p == 1)
        .ok_or(KeyError::UnsupportedKdf { n, r, p })?;
    if env.cipher.name != "nacl/secretbox" {
        return Err(KeyError::UnsupportedCipher(env.cipher.name));
    }
    let field = |name: &str, v: &str| {
        B64.decode(v)
            .map_err(|e| KeyError::BadEnvelope(format!("{name} is not base64: {e}")))
    };
    let salt = field("salt", &env.kdf.salt)?;
    let nonce: [u8; 24] = field("nonce", &env.cipher.nonce)?
        .try_into()
        .map_err(|_| KeyError::BadEnvelope("the nonce is not 24 bytes".into()))?;
    let ciphertext = field("ciphertext", &env.ciphertext)?;
    Ok(EncryptedKey {
        log_n,
        salt,
        nonce,
        ciphertext,
    })
}

impl EncryptedKey {
    /// Derive the key from `password` and open the box.
    pub fn decrypt(&self, password: &[u8]) -> Result<SigningKey, KeyError> {
        let secret = derive(password, &self.salt, self.log_n)?;
        let cipher = XSalsa20Poly1305::new(&secret.into());
        let plain = cipher
            .decrypt(&self.nonce.into(), self.ciphertext.as_slice())
            .map_err(|_| KeyError::WrongPassword)?;
        SigningKey::from_pkcs8_der(&plain).map_err(|e| classify_pkcs8_error(&plain, e))
    }
}

fn classify_pkcs8_error(plain: &[u8], e: p256::pkcs8::Error) -> KeyError {
    // SEC1 ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING .. }; PKCS#8 has
    // version 0 followed by an AlgorithmIdentifier SEQUENCE.
    let looks_sec1 = plain.len() > 8
        && plain[0] == 0x30
        && plain.windows(3).take(6).any(|w| w == [0x02, 0x01, 0x01]);
    if looks_sec1 {
        KeyError::NotPkcs8
    } else {
        KeyError::NotP256(e.to_string())
    }
}

/// Parse and decrypt in one go.
pub fn decrypt_private_key(text: &[u8], password: &[u8]) -> Result<SigningKey, KeyError> {
    parse_private_key(text)?.decrypt(password)
}

/// The `PUBLIC KEY` PEM of a key, as cosign writes it.
pub fn public_key_pem(key: &VerifyingKey) -> Result<String, KeyError> {
    let der = key
        .to_public_key_der()
        .map_err(|e| KeyError::BadPublicKey(e.to_string()))?;
    Ok(pem_lf(PUBLIC_LABEL, der.as_bytes()))
}

/// Read a `PUBLIC KEY` PEM (the first PEM block is used, as cosign does).
pub fn parse_public_key(text: &[u8]) -> Result<VerifyingKey, KeyError> {
    let block = pem::parse(text).map_err(|e| KeyError::NotPem(e.to_string()))?;
    if block.tag() != PUBLIC_LABEL {
        return Err(KeyError::WrongPublicLabel {
            found: block.tag().to_string(),
        });
    }
    VerifyingKey::from_public_key_der(block.contents())
        .map_err(|e| KeyError::BadPublicKey(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_and_without_password() {
        let key = generate();
        for pw in [&b""[..], b"hunter2"] {
            let pem = encrypt_private_key(&key, pw, SIGSTORE_PRIVATE_LABEL).unwrap();
            assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
            assert!(pem.ends_with("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
            assert!(!pem.contains('\r'));
            let back = decrypt_private_key(pem.as_bytes(), pw).unwrap();
            assert_eq!(back.verifying_key(), key.verifying_key());
        }
    }

    #[test]
    fn envelope_has_cosign_shape() {
        let pem = encrypt_private_key(&generate(), b"x", SIGSTORE_PRIVATE_LABEL).unwrap();
        let block = pem::parse(&pem).unwrap();
        let v: serde_json::Value = serde_json::from_slice(block.contents()).unwrap();
        assert_eq!(v["kdf"]["params"]["N"], 32768);
        assert_eq!(v["kdf"]["params"]["r"], 8);
        assert_eq!(v["kdf"]["params"]["p"], 1);
        assert_eq!(
            B64.decode(v["kdf"]["salt"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert_eq!(
            B64.decode(v["cipher"]["nonce"].as_str().unwrap())
                .unwrap()
                .len(),
            24
        );
        // PKCS#8 P-256 with the public key is 138 bytes; the box adds a 16-byte tag.
        assert_eq!(
            B64.decode(v["ciphertext"].as_str().unwrap()).unwrap().len(),
            154
        );
        let text = String::from_utf8(block.contents().to_vec()).unwrap();
        assert!(
            text.starts_with(
                r#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":""#
            )
        );
    }

    #[test]
    fn wrong_password_is_one_clear_error() {
        let pem = encrypt_private_key(&generate(), b"right", COSIGN_PRIVATE_LABEL).unwrap();
        let err = decrypt_private_key(pem.as_bytes(), b"wrong").unwrap_err();
        assert!(matches!(err, KeyError::WrongPassword), "{err}");
        assert_eq!(
            err.to_string(),
            "wrong password or corrupted key (decryption failed)"
        );
    }

    #[test]
    fn other_scrypt_parameters_are_refused_before_any_work() {
        let pem = encrypt_private_key(&generate(), b"", SIGSTORE_PRIVATE_LABEL).unwrap();
        let block = pem::parse(&pem).unwrap();
        let text = String::from_utf8(block.contents().to_vec()).unwrap();
        for (from, to) in [
            ("\"N\":32768", "\"N\":1048576"),
            ("\"r\":8", "\"r\":9"),
            ("\"N\":32768", "\"N\":1024"),
        ] {
            let bad = text.replace(from, to);
            let out = pem_lf(SIGSTORE_PRIVATE_LABEL, bad.as_bytes());
            assert!(
                matches!(
                    parse_private_key(out.as_bytes()),
                    Err(KeyError::UnsupportedKdf { .. })
                ),
                "{to}"
            );
        }
    }

    #[test]
    fn labels_are_checked() {
        let key = generate();
        let pub_pem = public_key_pem(key.verifying_key()).unwrap();
        assert!(matches!(
            parse_private_key(pub_pem.as_bytes()),
            Err(KeyError::WrongPrivateLabel { .. })
        ));
        let priv_pem = encrypt_private_key(&key, b"", SIGSTORE_PRIVATE_LABEL).unwrap();
        assert!(matches!(
            parse_public_key(priv_pem.as_bytes()),
            Err(KeyError::WrongPublicLabel { .. })
        ));
        assert_eq!(
            &parse_public_key(pub_pem.as_bytes()).unwrap(),
            key.verifying_key()
        );
    }

    #[test]
    fn public_pem_is_two_lines_of_base64() {
        let pem = public_key_pem(generate().verifying_key()).unwrap();
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 60);
    }
}
