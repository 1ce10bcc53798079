//! Signing, in either format:
//! - legacy: append a layer to the `.sig` image (never replacing what is there);
//! - bundle: push a sigstore bundle as an OCI 1.1 referrer of the image, and
//!   record it in the fallback index when the registry has no referrers API.
//!
//! Both tags can be rewritten by another signer at the same moment, and a
//! registry has no compare-and-swap for tags. Signers on one machine that share
//! a cache directory take a lock on the tag from their read to their write, so
//! they never lose each other's entry. For signers elsewhere, after our write
//! we read the tag back, and again a moment later; if our entry was lost we
//! write it again.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{DerSignature, SigningKey};
use serde_json::{Map, Value};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::bundle;
use super::payload::{self, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE};
use super::verify::signature_matches;
use crate::registry::manifest::{ConfigFile, Descriptor, ImageManifest};
use crate::registry::referrers::{IndexEntry, fallback_tag};
use crate::registry::{
    Client, OCI_INDEX, OCI_MANIFEST, Reference, RegistryError, SIGNATURE_BLOB_LIMIT, sha256_digest,
};

pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// cosign caps a signature image at this many layers.
pub const MAX_LAYERS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(
        "image {0} not found in the registry (no such tag or digest); push it first, or check the name"
    )]
    ImageNotFound(String),
    #[error("{image}: {source}")]
    Registry {
        image: String,
        #[source]
        source: RegistryError,
    },
    #[error("{image}: the existing signature manifest {tag} is not usable: {reason}")]
    BadSignatureImage {
        image: String,
        tag: String,
        reason: String,
    },
}

/// The two signature formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// cosign 2's `sha256-<hex>.sig` image (read by cosign 2 and 3, skopeo, every Harbor).
    Legacy,
    /// cosign 3's sigstore bundle on an OCI 1.1 referrer (Harbor counts it from v2.15).
    Bundle,
}

impl Format {
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::Legacy => "legacy",
            Format::Bundle => "bundle",
        }
    }
}

/// The image as a descriptor: what a bundle referrer's `subject` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
}

impl Subject {
    /// From manifest bytes as the registry served them: the media type the
    /// document declares (else the Content-Type), the byte length as size.
    pub fn from_manifest(m: &crate::registry::Manifest) -> Subject {
        let declared = serde_json::from_slice::<Value>(&m.bytes)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        Subject {
            digest: m.digest.clone(),
            media_type: declared.unwrap_or_else(|| m.media_type.clone()),
            size: m.bytes.len() as i64,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Signed {
    /// The reference as given.
    pub image: String,
    /// The manifest digest that was signed.
    pub digest: String,
    /// Where the signature lives (`repo:sha256-<hex>.sig`, or the referrer
    /// `repo@sha256:<hex>`).
    pub signature: String,
    pub format: Format,
    /// false when an identical signature by this key was already there.
    pub added: bool,
}

/// What to sign with, beyond the key: the format, the claims and the time.
#[derive(Debug, Clone)]
pub struct SignOptions {
    pub format: Format,
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 (seconds, UTC): the bundle referrer's creation annotation.
    pub created: String,
    /// At most this many images talking to the registry at once (`--jobs`),
    /// when several are signed together. An image waiting for other writers
    /// to settle (see [`Settle`]) holds no slot, so a batch pays that wait
    /// about once, not once per `--jobs` images.
    pub slots: Option<Arc<Semaphore>>,
    /// Where the per-tag locks shared by signers on this machine live (the
    /// cache directory's `locks`); `None` relies on read-back alone.
    pub lock_dir: Option<PathBuf>,
}

/// A slot of `slots`, if there is a limit.
async fn slot(slots: Option<&Semaphore>) -> Option<SemaphorePermit<'_>> {
    match slots {
        Some(s) => s.acquire().await.ok(),
        None => None,
    }
}

/// Sign one image in the legacy format. Safe to call concurrently.
pub async fn sign_image(
    client: &Client,
    key: &SigningKey,
    image: &Reference,
    annotations: &BTreeMap<String, String>,
) -> Result<Signed, SignError> {
    let opts = SignOptions {
        format: Format::Legacy,
        annotations: annotations.clone(),
        created: String::new(),
        slots: None,
        lock_dir: None,
    };
    sign(client, key, image, None, &opts).await
}

/// Sign one image. `subject` is the image as we pushed it ourselves, when we
/// did (in a Harbor project that enforces cosign signatures, a client that is
/// not cosign cannot read an unsigned manifest); otherwise it is fetched.
pub async fn sign(
    client: &Client,
    key: &SigningKey,
    image: &Reference,
    subject: Option<Subject>,
    opts: &SignOptions,
) -> Result<Signed, SignError> {
    let reg = |source| SignError::Registry {
        image: image.to_string(),
        source,
    };
    let busy = slot(opts.slots.as_deref()).await;
    let subject = match subject {
        Some(s) => s,
        None if opts.format == Format::Legacy && image.digest.is_some() => Subject {
            digest: image.digest.clone().unwrap_or_default(),
            media_type: String::new(),
            size: 0,
        },
        None => {
            let m = client
                .get_manifest_for_push(image)
                .await
                .map_err(reg)?
                .ok_or_else(|| SignError::ImageNotFound(image.to_string()))?;
            Subject::from_manifest(&m)
        }
    };
    drop(busy);
    match opts.format {
        Format::Legacy => sign_legacy(client, key, image, &subject.digest, opts).await,
        Format::Bundle => sign_bundle(client, key, image, &subject, opts).await,
    }
    .map_err(|e| match e {
        Failure::Registry(source) => reg(source),
        Failure::Bad { tag, reason } => SignError::BadSignatureImage {
            image: image.to_string(),
            tag,
            reason,
        },
    })
}

/// A signing failure before it is given the image's name.
enum Failure {
    Registry(RegistryError),
    Bad { tag: String, reason: String },
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        Failure::Registry(e)
    }
}

/// Read-modify-write of a tag that others may rewrite at the same time. A
/// signer on this machine holds the tag's lock from its read to its write;
/// after our write, our entry must also be seen in two reads a settling time
/// apart (for writers elsewhere); a lost entry is written again.
struct Settle<'a> {
    slots: Option<&'a Semaphore>,
    /// The lock file for this tag, when signers here share a lock directory.
    lock: Option<PathBuf>,
    /// Held from a read to our write, never while waiting.
    busy: Option<Busy<'a>>,
    wrote: bool,
    seen: u32,
    writes: u32,
    /// Reads that asked for a write (some may have been abandoned and re-read).
    tries: u32,
    started: Instant,
    cycle: Duration,
}

/// What a read-modify-write holds: a `--jobs` slot and the tag's lock.
struct Busy<'a> {
    _slot: Option<SemaphorePermit<'a>>,
    /// Unlocked when closed.
    _lock: Option<File>,
}

/// The lock file for `tag` in `dir`: one of 256, by the first byte of a hash,
/// so a few hundred files however many images are signed, and rarely two busy
/// tags on one file. The registry's name is left out: one registry reached by
/// two names (a proxy, `localhost` and `127.0.0.1`) is still one tag, and two
/// registries sharing a file only wait for each other.
fn lock_path(dir: &Path, tag: &Reference) -> PathBuf {
    use sha2::Digest as _;
    let key = format!("{}:{}", tag.repository, tag.manifest_ref());
    let n = sha2::Sha256::digest(key.as_bytes())[0];
    dir.join(format!("tag-{n:02x}.lock"))
}

/// Wait for the exclusive lock on `path`. A lock that cannot be taken at all
/// (an unwritable directory, a filesystem without locks), or not within
/// [`LOCK_WAIT`] (a stopped process holding it), is skipped: the read-back
/// still protects the entry.
async fn take_lock(path: &Path) -> Option<File> {
    let file = crate::fsutil::open_lock_file(path).ok()?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Some(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            Err(_) => return None,
        }
    }
}

/// A holder does one read and one write (each bounded by the client's
/// timeouts) under the lock; longer than this, it is not coming back soon.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// Give up after this many writes of the same entry.
const MAX_WRITES: u32 = 40;

impl<'a> Settle<'a> {
    /// For a write of `tag`, within `opts`' `--jobs` slots and lock directory.
    fn new(opts: &'a SignOptions, tag: &Reference) -> Settle<'a> {
        Settle {
            slots: opts.slots.as_deref(),
            lock: opts.lock_dir.as_deref().map(|d| lock_path(d, tag)),
            busy: None,
            wrote: false,
            seen: 0,
            writes: 0,
            tries: 0,
            started: Instant::now(),
            cycle: Duration::ZERO,
        }
    }

    /// Take the tag's lock and a slot for the next read (and the write that
    /// may follow). The lock comes first: waiting for it holds no slot.
    async fn begin(&mut self) {
        if self.busy.is_none() {
            let lock = match &self.lock {
                Some(path) => take_lock(path).await,
                None => None,
            };
            self.busy = Some(Busy {
                _lock: lock,
                _slot: slot(self.slots).await,
            });
        }
    }

    /// The read found our entry. `true` when we are done.
    async fn found(&mut self) -> bool {
        self.busy = None;
        if !self.wrote {
            return true;
        }
        self.seen += 1;
        if self.seen >= 2 {
            return true;
        }
        // Long enough for a writer that read before our write to finish its own.
        let settle = (self.cycle * 3).max(Duration::from_millis(150));
        tokio::time::sleep(settle).await;
        false
    }

    /// The read did not find our entry; `Err` when we have tried too often.
    fn must_write(&mut self) -> Result<(), String> {
        self.tries += 1;
        if self.writes >= MAX_WRITES || self.tries > 2 * MAX_WRITES {
            return Err(format!(
                "our entry was overwritten by other writers {MAX_WRITES} times; try again"
            ));
        }
        self.started = Instant::now();
        Ok(())
    }

    /// We wrote; back off a little (more after each lost write) before reading.
    async fn written(&mut self) {
        self.busy = None;
        self.cycle = self.cycle.max(self.started.elapsed());
        self.wrote = true;
        self.seen = 0;
        self.writes += 1;
        if self.writes > 1 {
            let mut b = [0u8; 1];
            getrandom::fill(&mut b).ok();
            let jitter = u64::from(b[0]) % (10 * u64::from(self.writes.min(10)));
            tokio::time::sleep(Duration::from_millis(jitter)).await;
        }
    }
}

async fn sign_legacy(
    client: &Client,
    key: &SigningKey,
    image: &Reference,
    digest: &str,
    opts: &SignOptions,
) -> Result<Signed, Failure> {
    let annotations = &opts.annotations;
    let payload = payload::build(&image.name(), digest, annotations);
    let payload_digest = sha256_digest(&payload);
    let sig_ref = image.with_tag(&super::signature_tag(digest));
    let bad = |reason: String| Failure::Bad {
        tag: sig_ref.to_string(),
        reason,
    };
    let vk = key.verifying_key();
    let signature: DerSignature = key.sign(&payload);
    let signature_b64 = B64.encode(signature.as_bytes());
    let payload = Bytes::from(payload);
    let mut settle = Settle::new(opts, &sig_ref);
    loop {
        settle.begin().await;
        let existing = client.get_manifest_retrying(&sig_ref, true).await?;
        let (mut manifest, mut config) = match existing {
            None => (empty_signature_manifest(), ConfigFile::empty()),
            Some(m) => {
                let parsed: ImageManifest = serde_json::from_slice(&m.bytes)
                    .map_err(|e| bad(format!("not an image manifest: {e}")))?;
                let ours = parsed.layers.iter().any(|l| {
                    l.media_type == SIMPLE_SIGNING_MEDIA_TYPE
                        && l.digest == payload_digest
                        && only_signature_annotation(l)
                        && l.annotations
                            .as_ref()
                            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
                            .is_some_and(|s| signature_matches(vk, &payload, s))
                });
                if ours {
                    if settle.found().await {
                        return Ok(Signed {
                            image: image.to_string(),
                            digest: digest.to_string(),
                            signature: sig_ref.to_string(),
                            format: Format::Legacy,
                            added: settle.wrote,
                        });
                    }
                    continue;
                }
                if parsed.layers.len() >= MAX_LAYERS {
                    return Err(bad(format!("it already has {MAX_LAYERS} layers")));
                }
                let config_bytes = match client
                    .get_blob(&sig_ref, &parsed.config.digest, SIGNATURE_BLOB_LIMIT)
                    .await
                {
                    Ok(b) => b,
                    // Rewritten under us: its config may be gone already; read again.
                    Err(e) if settle.wrote || crate::registry::referrers::is_transient(&e) => {
                        settle.must_write().map_err(bad)?;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                let config: ConfigFile = serde_json::from_slice(&config_bytes)
                    .map_err(|e| bad(format!("its config is not an image config: {e}")))?;
                (parsed, config)
            }
        };
        settle.must_write().map_err(bad)?;

        let mut layer_annotations = BTreeMap::new();
        layer_annotations.insert(SIGNATURE_ANNOTATION.to_string(), signature_b64.clone());
        client
            .put_blob(&sig_ref, &payload_digest, payload.clone())
            .await?;
        config.append_layer(&payload_digest);
        let config_bytes = Bytes::from(serde_json::to_vec(&config).expect("config serialises"));
        let config_digest = sha256_digest(&config_bytes);
        client
            .put_blob(&sig_ref, &config_digest, config_bytes.clone())
            .await?;
        manifest.media_type = Some(OCI_MANIFEST.to_string());
        manifest.config.media_type = OCI_CONFIG.to_string();
        manifest.config.size = config_bytes.len() as i64;
        manifest.config.digest = config_digest;
        manifest.layers.push(Descriptor {
            media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
            size: payload.len() as i64,
            digest: payload_digest.clone(),
            data: None,
            urls: None,
            annotations: Some(layer_annotations),
            platform: None,
            artifact_type: None,
        });
        let manifest_bytes =
            Bytes::from(serde_json::to_vec(&manifest).expect("manifest serialises"));
        client
            .put_manifest(&sig_ref, manifest_bytes, OCI_MANIFEST)
            .await?;
        settle.written().await;
    }
}

async fn sign_bundle(
    client: &Client,
    key: &SigningKey,
    image: &Reference,
    subject: &Subject,
    opts: &SignOptions,
) -> Result<Signed, Failure> {
    let digest = &subject.digest;
    let busy = slot(opts.slots.as_deref()).await;
    // The same key and claims already signed this image: nothing to add.
    if let Some(existing) = super::verify::matching_bundle(
        client,
        key.verifying_key(),
        image,
        digest,
        &opts.annotations,
    )
    .await?
    {
        return Ok(Signed {
            image: image.to_string(),
            digest: digest.clone(),
            signature: image.with_digest(&existing).to_string(),
            format: Format::Bundle,
            added: false,
        });
    }
    let statement = bundle::build_statement(digest, &opts.annotations);
    let bundle_bytes = Bytes::from(bundle::build_bundle(key, &statement));
    let subject_descriptor = Descriptor {
        media_type: subject.media_type.clone(),
        size: subject.size,
        digest: digest.clone(),
        data: None,
        urls: None,
        annotations: None,
        platform: None,
        artifact_type: None,
    };
    let manifest = bundle::referrer_manifest(subject_descriptor, &bundle_bytes, &opts.created);
    let manifest_bytes = Bytes::from(serde_json::to_vec(&manifest).expect("manifest serialises"));
    let referrer_digest = sha256_digest(&manifest_bytes);
    let referrer = image.with_digest(&referrer_digest);
    client
        .put_blob(
            &referrer,
            &manifest.config.digest,
            Bytes::from_static(bundle::EMPTY_CONFIG),
        )
        .await?;
    client
        .put_blob(&referrer, &manifest.layers[0].digest, bundle_bytes.clone())
        .await?;
    let pushed = client
        .push_manifest(&referrer, manifest_bytes.clone(), OCI_MANIFEST)
        .await?;
    let signed = Signed {
        image: image.to_string(),
        digest: digest.clone(),
        signature: referrer.to_string(),
        format: Format::Bundle,
        added: true,
    };
    if pushed.oci_subject.is_some() {
        return Ok(signed); // the registry's referrers API lists it
    }
    drop(busy);

    // No referrers API: our descriptor goes into the fallback index.
    let mut entry = Map::new();
    entry.insert("mediaType".into(), OCI_MANIFEST.into());
    entry.insert("size".into(), Value::from(manifest_bytes.len()));
    entry.insert("digest".into(), Value::from(referrer_digest.clone()));
    entry.insert("artifactType".into(), bundle::BUNDLE_MEDIA_TYPE.into());
    if let Some(a) = &manifest.annotations {
        entry.insert(
            "annotations".into(),
            serde_json::to_value(a).unwrap_or_default(),
        );
    }
    let entry = IndexEntry {
        media_type: OCI_MANIFEST.into(),
        digest: referrer_digest.clone(),
        size: manifest_bytes.len() as i64,
        artifact_type: Some(bundle::BUNDLE_MEDIA_TYPE.into()),
        raw: entry,
    };
    let tag = image.with_tag(&fallback_tag(digest));
    let bad = |reason: String| Failure::Bad {
        tag: tag.to_string(),
        reason,
    };
    let mut settle = Settle::new(opts, &tag);
    loop {
        settle.begin().await;
        let mut index = match client.fallback_index(image, digest).await {
            Ok(Some((index, _))) => index,
            Ok(None) => Default::default(),
            Err(RegistryError::BadResponse { reason, .. }) => {
                return Err(bad(format!("the referrers index is not usable: {reason}")));
            }
            Err(e) => return Err(e.into()),
        };
        if index.contains(&referrer_digest) {
            if settle.found().await {
                return Ok(signed);
            }
            continue;
        }
        settle.must_write().map_err(bad)?;
        index.manifests.push(entry.clone());
        match client.put_manifest(&tag, index.to_bytes(), OCI_INDEX).await {
            Ok(_) => {}
            Err(e) if matches!(e.status(), Some(400..=499)) && !e_is_auth(&e) => {
                // The registry refuses an index that lists a manifest it no
                // longer has: drop only such entries (never one that exists).
                let mut kept = Vec::with_capacity(index.manifests.len());
                for m in index.manifests {
                    let exists = m.digest == referrer_digest
                        || client
                            .get_manifest_retrying(&image.with_digest(&m.digest), true)
                            .await?
                            .is_some();
                    if exists {
                        kept.push(m);
                    }
                }
                index.manifests = kept;
                client
                    .put_manifest(&tag, index.to_bytes(), OCI_INDEX)
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
        settle.written().await;
    }
}

fn e_is_auth(e: &RegistryError) -> bool {
    matches!(e.status(), Some(401 | 403))
}

fn only_signature_annotation(l: &Descriptor) -> bool {
    l.annotations
        .as_ref()
        .is_some_and(|a| a.keys().all(|k| k == SIGNATURE_ANNOTATION))
}

fn empty_signature_manifest() -> ImageManifest {
    ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        config: Descriptor {
            media_type: OCI_CONFIG.to_string(),
            size: 0,
            digest: String::new(),
            data: None,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        },
        layers: Vec::new(),
        annotations: None,
        subject: None,
        artifact_type: None,
    }
}
