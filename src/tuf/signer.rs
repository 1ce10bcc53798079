//! tough's `KeySource` and `Sign` over the project's own cosign-format key
//! files (encrypted P-256), so that TUF keys are stored exactly like the lab's
//! cosign key.

use std::path::PathBuf;

use async_trait::async_trait;
use aws_lc_rs::rand::SecureRandom;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use tough::key_source::KeySource;
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::key::{EcdsaKey, EcdsaScheme, Key};
use tough::sign::Sign;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A TUF public key (`ecdsa`, `ecdsa-sha2-nistp256`, PEM SubjectPublicKeyInfo).
pub fn tuf_key(key: &VerifyingKey) -> Key {
    let point = key.to_sec1_point(false);
    Key::Ecdsa {
        keyval: EcdsaKey {
            public: point.as_bytes().to_vec().into(),
            _extra: Default::default(),
        },
        scheme: EcdsaScheme::EcdsaSha2Nistp256,
        _extra: Default::default(),
    }
}

/// The key id TUF gives `key`: sha256 of its canonical JSON.
pub fn key_id(key: &VerifyingKey) -> Result<Decoded<Hex>, String> {
    tuf_key(key).key_id().map_err(|e| e.to_string())
}

/// A decrypted P-256 key that tough can sign with.
pub struct P256Signer(pub SigningKey);

#[async_trait]
impl Sign for P256Signer {
    fn tuf_key(&self) -> Key {
        tuf_key(self.0.verifying_key())
    }

    async fn sign(
        &self,
        msg: &[u8],
        _rng: &(dyn SecureRandom + Sync),
    ) -> Result<Vec<u8>, BoxError> {
        let sig: DerSignature = self.0.sign(msg);
        Ok(sig.as_bytes().to_vec())
    }
}

/// A cosign-format key file and its password, decrypted when tough asks.
pub struct CosignKeySource {
    pub path: PathBuf,
    pub password: String,
}

impl std::fmt::Debug for CosignKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        write!(f, "CosignKeySource({})", self.path.display())
    }
}

impl CosignKeySource {
    pub fn load(&self) -> Result<SigningKey, BoxError> {
        let text = std::fs::read(&self.path)
            .map_err(|e| format!("{}: cannot read it: {e}", self.path.display()))?;
        crate::cosign::keys::decrypt_private_key(&text, self.password.as_bytes())
            .map_err(|e| format!("{}: {e}", self.path.display()).into())
    }
}

#[async_trait]
impl KeySource for CosignKeySource {
    async fn as_sign(&self) -> Result<Box<dyn Sign>, BoxError> {
        Ok(Box::new(P256Signer(self.load()?)))
    }

    async fn write(&self, _value: &str, _key_id_hex: &str) -> Result<(), BoxError> {
        Err("harbor-lab writes its TUF keys itself, encrypted".into())
    }
}
