//! TUF metadata as a client reads it: the signed envelope, the four top-level
//! roles and delegated targets, with the checks the client workflow needs.
//! Parsing is as lenient as python-tuf's (unknown fields are kept out of the
//! way, never refused) and as strict where python-tuf is strict (whole-second
//! expiries, versions above zero, a spec version 1.x, no duplicate key ids).

use std::collections::BTreeMap;

use p256::ecdsa::signature::Verifier as _;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256, Sha512};

use super::TufError;

/// The top-level role names.
pub const TOP_LEVEL: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

fn invalid(msg: impl Into<String>) -> TufError {
    TufError::Invalid(msg.into())
}

/// A signed document: the `signed` part, its canonical bytes, and the signatures.
#[derive(Debug, Clone)]
pub struct Envelope<T> {
    pub signed: T,
    /// Canonical JSON (OLPC) of `signed`: the bytes the signatures cover.
    pub canonical: Vec<u8>,
    /// Key id and hex signature, in document order (key ids are unique).
    pub signatures: Vec<(String, String)>,
}

/// What every role has.
#[derive(Debug, Clone, Deserialize)]
pub struct Common {
    #[serde(rename = "_type")]
    pub role_type: String,
    pub spec_version: String,
    pub version: u64,
    pub expires: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Key {
    pub keytype: String,
    pub scheme: String,
    pub keyval: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoleKeys {
    pub keyids: Vec<String>,
    pub threshold: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Root {
    #[serde(flatten)]
    pub common: Common,
    #[serde(default)]
    pub consistent_snapshot: bool,
    pub keys: BTreeMap<String, Key>,
    pub roles: BTreeMap<String, RoleKeys>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetaFile {
    pub version: u64,
    #[serde(default)]
    pub length: Option<u64>,
    #[serde(default)]
    pub hashes: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Timestamp {
    #[serde(flatten)]
    pub common: Common,
    pub meta: BTreeMap<String, MetaFile>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Snapshot {
    #[serde(flatten)]
    pub common: Common,
    pub meta: BTreeMap<String, MetaFile>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TargetFile {
    pub length: u64,
    /// Algorithm to hex digest, in document order (the first one names the file).
    pub hashes: serde_json::Map<String, Value>,
    #[serde(default)]
    pub custom: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DelegatedRole {
    pub name: String,
    pub keyids: Vec<String>,
    pub threshold: u64,
    pub terminating: bool,
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    #[serde(default)]
    pub path_hash_prefixes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SuccinctRoles {
    pub keyids: Vec<String>,
    pub threshold: u64,
    pub bit_length: u32,
    pub name_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Delegations {
    pub keys: BTreeMap<String, Key>,
    #[serde(default)]
    pub roles: Option<Vec<DelegatedRole>>,
    #[serde(default)]
    pub succinct_roles: Option<SuccinctRoles>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Targets {
    #[serde(flatten)]
    pub common: Common,
    pub targets: BTreeMap<String, TargetFile>,
    #[serde(default)]
    pub delegations: Option<Delegations>,
}

/// A role's keys and threshold, wherever it was declared.
pub struct Delegation<'a> {
    pub keys: &'a BTreeMap<String, Key>,
    pub keyids: &'a [String],
    pub threshold: u64,
}

pub trait Role: for<'de> Deserialize<'de> {
    fn common(&self) -> &Common;
    fn check(&self) -> Result<(), TufError> {
        Ok(())
    }
}

impl Role for Root {
    fn common(&self) -> &Common {
        &self.common
    }
    fn check(&self) -> Result<(), TufError> {
        let mut names: Vec<&str> = self.roles.keys().map(String::as_str).collect();
        names.sort_unstable();
        let mut want = TOP_LEVEL.to_vec();
        want.sort_unstable();
        if names != want {
            return Err(invalid(format!(
                "root must list exactly the roles root, targets, snapshot and timestamp (it lists {names:?})"
            )));
        }
        self.roles.values().try_for_each(check_role_keys)
    }
}

impl Role for Timestamp {
    fn common(&self) -> &Common {
        &self.common
    }
    fn check(&self) -> Result<(), TufError> {
        let m = self
            .meta
            .get("snapshot.json")
            .ok_or_else(|| invalid("timestamp has no meta for snapshot.json"))?;
        check_metafile(m)
    }
}

impl Role for Snapshot {
    fn common(&self) -> &Common {
        &self.common
    }
    fn check(&self) -> Result<(), TufError> {
        self.meta.values().try_for_each(check_metafile)
    }
}

impl Role for Targets {
    fn common(&self) -> &Common {
        &self.common
    }
    fn check(&self) -> Result<(), TufError> {
        for (path, t) in &self.targets {
            if t.hashes.is_empty() {
                return Err(invalid(format!("target {path:?} has no hashes")));
            }
        }
        let Some(d) = &self.delegations else {
            return Ok(());
        };
        match (&d.roles, &d.succinct_roles) {
            (Some(roles), None) => {
                let mut seen = std::collections::BTreeSet::new();
                for r in roles {
                    if TOP_LEVEL.contains(&r.name.as_str()) {
                        return Err(invalid(format!(
                            "a delegated role cannot be named {:?}",
                            r.name
                        )));
                    }
                    if !seen.insert(r.name.as_str()) {
                        return Err(invalid(format!("delegated role {:?} twice", r.name)));
                    }
                    if r.paths.is_some() == r.path_hash_prefixes.is_some() {
                        return Err(invalid(format!(
                            "delegated role {:?} needs exactly one of paths and path_hash_prefixes",
                            r.name
                        )));
                    }
                    check_role_keys(&RoleKeys {
                        keyids: r.keyids.clone(),
                        threshold: r.threshold,
                    })?;
                }
                Ok(())
            }
            (None, Some(s)) => {
                if !(1..=32).contains(&s.bit_length) {
                    return Err(invalid("succinct_roles bit_length must be 1..32"));
                }
                check_role_keys(&RoleKeys {
                    keyids: s.keyids.clone(),
                    threshold: s.threshold,
                })
            }
            _ => Err(invalid(
                "delegations need exactly one of roles and succinct_roles",
            )),
        }
    }
}

fn check_role_keys(r: &RoleKeys) -> Result<(), TufError> {
    if r.threshold < 1 {
        return Err(invalid("a role threshold must be at least 1"));
    }
    let mut ids = r.keyids.clone();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() != r.keyids.len() {
        return Err(invalid("a role lists the same key id twice"));
    }
    Ok(())
}

fn check_metafile(m: &MetaFile) -> Result<(), TufError> {
    if m.version < 1 {
        return Err(invalid("a meta version must be at least 1"));
    }
    if m.length == Some(0) {
        return Err(invalid("a meta length must be at least 1"));
    }
    if m.hashes.as_ref().is_some_and(|h| h.is_empty()) {
        return Err(invalid("meta hashes must not be empty"));
    }
    Ok(())
}

/// The canonical (OLPC) JSON of a value.
pub fn canonical(value: &Value) -> Result<Vec<u8>, TufError> {
    use serde::Serialize as _;
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, olpc_cjson::CanonicalFormatter::new());
    value
        .serialize(&mut ser)
        .map_err(|e| invalid(format!("cannot put the metadata in canonical form: {e}")))?;
    Ok(out)
}

/// Parse a metadata file of role type `expected` (`"root"`, ..., or `"targets"`
/// for delegated roles).
pub fn parse<T: Role>(bytes: &[u8], expected: &str) -> Result<Envelope<T>, TufError> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| invalid(format!("{expected} metadata is not JSON: {e}")))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| invalid(format!("{expected} metadata is not a JSON object")))?;
    let signed = obj
        .get("signed")
        .filter(|s| s.is_object())
        .ok_or_else(|| invalid(format!("{expected} metadata has no \"signed\" object")))?;
    let sigs = obj
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("{expected} metadata has no \"signatures\" list")))?;
    let mut signatures: Vec<(String, String)> = Vec::new();
    for s in sigs {
        let keyid = s.get("keyid").and_then(Value::as_str);
        let sig = s.get("sig").and_then(Value::as_str);
        let (Some(keyid), Some(sig)) = (keyid, sig) else {
            return Err(invalid(format!(
                "{expected} metadata has a signature without keyid or sig"
            )));
        };
        if signatures.iter().any(|(k, _)| k == keyid) {
            return Err(invalid(format!(
                "{expected} metadata has two signatures by key {keyid}"
            )));
        }
        signatures.push((keyid.to_string(), sig.to_string()));
    }
    let typed: T = serde_json::from_value(signed.clone())
        .map_err(|e| invalid(format!("{expected} metadata: {e}")))?;
    let c = typed.common();
    if c.role_type != expected {
        return Err(invalid(format!(
            "expected {expected} metadata, got _type {:?}",
            c.role_type
        )));
    }
    check_spec_version(&c.spec_version)?;
    if c.version < 1 {
        return Err(invalid(format!("{expected} version must be at least 1")));
    }
    parse_expiry(&c.expires)?;
    typed.check()?;
    Ok(Envelope {
        canonical: canonical(signed)?,
        signed: typed,
        signatures,
    })
}

fn check_spec_version(v: &str) -> Result<(), TufError> {
    let parts: Vec<&str> = v.split('.').collect();
    let ok = (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[0] == "1";
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "unsupported spec_version {v:?} (1.x is supported)"
        )))
    }
}

/// Parse an expiry: `YYYY-MM-DDTHH:MM:SSZ`, whole seconds only.
pub fn parse_expiry(text: &str) -> Result<jiff::Timestamp, TufError> {
    let b = text.as_bytes();
    let shape = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return Err(invalid(format!(
            "expiry {text:?} is not YYYY-MM-DDTHH:MM:SSZ"
        )));
    }
    text.parse()
        .map_err(|e| invalid(format!("expiry {text:?}: {e}")))
}

impl Common {
    pub fn expiry(&self) -> jiff::Timestamp {
        // Checked at parse time.
        parse_expiry(&self.expires).unwrap_or(jiff::Timestamp::MIN)
    }
    pub fn is_expired(&self, now: jiff::Timestamp) -> bool {
        now >= self.expiry()
    }
}

/// Does `signature` (hex) by `key` cover `message`? Unsupported key types and
/// malformed keys or signatures simply do not count.
pub fn key_verifies(key: &Key, message: &[u8], signature_hex: &str) -> bool {
    let Ok(sig) = hex::decode(signature_hex) else {
        return false;
    };
    let Some(public) = key.keyval.get("public").and_then(Value::as_str) else {
        return false;
    };
    match (key.keytype.as_str(), key.scheme.as_str()) {
        ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
            let vk = if public.starts_with("-----BEGIN") {
                use p256::pkcs8::DecodePublicKey as _;
                pem::parse(public)
                    .ok()
                    .filter(|b| b.tag() == "PUBLIC KEY")
                    .and_then(|b| p256::ecdsa::VerifyingKey::from_public_key_der(b.contents()).ok())
            } else {
                hex::decode(public)
                    .ok()
                    .and_then(|b| p256::ecdsa::VerifyingKey::from_sec1_bytes(&b).ok())
            };
            let Some(vk) = vk else { return false };
            p256::ecdsa::DerSignature::from_bytes(&sig)
                .is_ok_and(|s| vk.verify(message, &s).is_ok())
        }
        ("ed25519", "ed25519") => {
            let Ok(raw) = hex::decode(public) else {
                return false;
            };
            aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, raw)
                .verify(message, &sig)
                .is_ok()
        }
        _ => false,
    }
}

/// Check that at least `threshold` distinct keys of `delegation` signed.
pub fn verify_threshold<T>(
    delegation: &Delegation<'_>,
    env: &Envelope<T>,
    role: &str,
) -> Result<(), TufError> {
    let mut good = 0u64;
    for keyid in delegation.keyids {
        let Some(key) = delegation.keys.get(keyid) else {
            continue;
        };
        let Some((_, sig)) = env.signatures.iter().find(|(k, _)| k == keyid) else {
            continue;
        };
        if key_verifies(key, &env.canonical, sig) {
            good += 1;
        }
    }
    if good < delegation.threshold {
        return Err(invalid(format!(
            "{role} metadata has {good} valid signature(s), its threshold is {}",
            delegation.threshold
        )));
    }
    Ok(())
}

impl Root {
    /// The keys and threshold of a top-level role.
    pub fn delegation(&self, role: &str) -> Result<Delegation<'_>, TufError> {
        let r = self
            .roles
            .get(role)
            .ok_or_else(|| invalid(format!("root does not list the {role} role")))?;
        Ok(Delegation {
            keys: &self.keys,
            keyids: &r.keyids,
            threshold: r.threshold,
        })
    }
}

impl Delegations {
    /// The keys and threshold of delegated role `name`, if this delegates it.
    pub fn delegation(&self, name: &str) -> Option<Delegation<'_>> {
        if let Some(roles) = &self.roles {
            return roles.iter().find(|r| r.name == name).map(|r| Delegation {
                keys: &self.keys,
                keyids: &r.keyids,
                threshold: r.threshold,
            });
        }
        let s = self.succinct_roles.as_ref()?;
        s.is_delegated(name).then_some(Delegation {
            keys: &self.keys,
            keyids: &s.keyids,
            threshold: s.threshold,
        })
    }

    /// The roles to ask for `target`, in order, with their `terminating` flag.
    pub fn roles_for(&self, target: &str) -> Vec<(String, bool)> {
        if let Some(roles) = &self.roles {
            return roles
                .iter()
                .filter(|r| r.delegates(target))
                .map(|r| (r.name.clone(), r.terminating))
                .collect();
        }
        match &self.succinct_roles {
            Some(s) => vec![(s.role_for(target), true)],
            None => Vec::new(),
        }
    }
}

impl DelegatedRole {
    pub fn delegates(&self, target: &str) -> bool {
        if let Some(paths) = &self.paths {
            return paths.iter().any(|p| path_matches(target, p));
        }
        if let Some(prefixes) = &self.path_hash_prefixes {
            let h = hex::encode(Sha256::digest(target.as_bytes()));
            return prefixes.iter().any(|p| h.starts_with(p.as_str()));
        }
        false
    }
}

impl SuccinctRoles {
    fn suffix_len(&self) -> usize {
        let bins: u64 = 1 << self.bit_length;
        format!("{:x}", bins - 1).len()
    }
    pub fn role_for(&self, target: &str) -> String {
        let h = Sha256::digest(target.as_bytes());
        let first = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let bin = u64::from(first) >> (32 - self.bit_length);
        format!(
            "{}-{:0width$x}",
            self.name_prefix,
            bin,
            width = self.suffix_len()
        )
    }
    pub fn is_delegated(&self, name: &str) -> bool {
        let Some(suffix) = name
            .strip_prefix(self.name_prefix.as_str())
            .and_then(|s| s.strip_prefix('-'))
        else {
            return false;
        };
        suffix.len() == self.suffix_len()
            && u64::from_str_radix(suffix, 16).is_ok_and(|n| n < (1u64 << self.bit_length))
    }
}

/// TUF's path pattern match: the same number of `/`-separated parts, each
/// matched as python-tuf matches it, with `fnmatch`: `*` any run of
/// characters, `?` one character, `[...]` and `[!...]` a set of them (a `]`
/// first in the set is one of them; a `[` with no `]` after it is itself), and
/// no escapes or braces. (The `glob` and `globset` crates read `**`, `\` and
/// `{a,b}` otherwise.)
pub fn path_matches(target: &str, pattern: &str) -> bool {
    let t: Vec<&str> = target.split('/').collect();
    let p: Vec<&str> = pattern.split('/').collect();
    t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| glob(a, b))
}

/// One element of a pattern: every one but `*` stands for exactly one character.
enum Token {
    Star,
    Any,
    Set {
        negate: bool,
        ranges: Vec<(char, char)>,
    },
    Char(char),
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Star | Token::Any => true,
            Token::Set { negate, ranges } => {
                ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negate
            }
            Token::Char(x) => *x == c,
        }
    }
}

fn tokens(pattern: &str) -> Vec<Token> {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '*' => out.push(Token::Star),
            '?' => out.push(Token::Any),
            '[' => {
                let mut j = i + 1;
                if p.get(j) == Some(&'!') {
                    j += 1;
                }
                if p.get(j) == Some(&']') {
                    j += 1;
                }
                match p[j..].iter().position(|c| *c == ']') {
                    None => out.push(Token::Char('[')),
                    Some(k) => {
                        let end = j + k;
                        let negate = p.get(i + 1) == Some(&'!');
                        let set = &p[i + 1 + usize::from(negate)..end];
                        let mut ranges = Vec::new();
                        let mut k = 0;
                        while k < set.len() {
                            if k + 2 < set.len() && set[k + 1] == '-' {
                                ranges.push((set[k], set[k + 2]));
                                k += 3;
                            } else {
                                ranges.push((set[k], set[k]));
                                k += 1;
                            }
                        }
                        out.push(Token::Set { negate, ranges });
                        i = end;
                    }
                }
            }
            c => out.push(Token::Char(c)),
        }
        i += 1;
    }
    out
}

/// Whether `text` matches `pattern` as a whole, in O(text × pattern) steps:
/// on a mismatch only the last `*` takes one more character (every other
/// token takes exactly one), which finds a match if any exists.
fn glob(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let pat = tokens(pattern);
    let (mut t, mut p) = (0, 0);
    // After the last `*` seen: the next token, and where in `text` it starts.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pat.get(p) {
            Some(Token::Star) => {
                p += 1;
                star = Some((p, t));
                continue;
            }
            Some(tok) if tok.matches(text[t]) => {
                t += 1;
                p += 1;
                continue;
            }
            _ => {}
        }
        match &mut star {
            Some((after, from)) => {
                *from += 1;
                p = *after;
                t = *from;
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|tok| matches!(tok, Token::Star))
}

/// Check a file against a declared length and hashes (sha256, sha512).
pub fn check_length_and_hashes(
    what: &str,
    data: &[u8],
    length: Option<u64>,
    hashes: Option<&serde_json::Map<String, Value>>,
) -> Result<(), TufError> {
    if let Some(l) = length
        && data.len() as u64 != l
    {
        return Err(invalid(format!(
            "{what} is {} bytes, the metadata says {l}",
            data.len()
        )));
    }
    for (alg, want) in hashes.into_iter().flatten() {
        let got = match alg.as_str() {
            "sha256" => hex::encode(Sha256::digest(data)),
            "sha512" => hex::encode(Sha512::digest(data)),
            other => {
                return Err(invalid(format!(
                    "{what}: unsupported hash algorithm {other:?}"
                )));
            }
        };
        if want.as_str() != Some(got.as_str()) {
            return Err(invalid(format!(
                "{what} has {alg} {got}, the metadata says {}",
                want.as_str().unwrap_or("(not a string)")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(path_matches("a/b.txt", "a/*.txt"));
        assert!(!path_matches("a/b/c.txt", "a/*.txt"));
        assert!(path_matches("x", "*"));
        assert!(path_matches("file1", "file?"));
        assert!(path_matches("f3", "f[0-9]"));
        assert!(!path_matches("fa", "f[!a]"));
    }

    #[test]
    fn globs_read_patterns_as_fnmatch_does() {
        // Each answer is Python's fnmatch.fnmatch(text, pattern), which python-tuf uses.
        for (text, pattern, expected) in [
            ("", "*", true),
            ("", "?", false),
            ("abc", "a**c", true),
            ("abc", "*b*", true),
            ("abc", "*c*a", false),
            ("aXbXc", "*X*X*", true),
            ("é", "?", true),
            ("]", "[]]", true),
            ("a", "[]a]", true),
            ("b", "[!]a]", true),
            ("]", "[!]a]", false),
            ("[", "[", true),
            ("[ab", "[ab", true),
            ("!", "[!]", false),
            ("[!]", "[!]", true),
            ("-", "[a-]", true),
            ("b", "[a-c-e]", true),
            ("-", "[a-c-e]", true),
            ("d", "[a-c-e]", false),
            ("a", "[z-a]", false),
            ("\\", "\\", true),
            ("{a,b}", "{a,b}", true),
            ("a", "{a,b}", false),
        ] {
            assert_eq!(
                path_matches(text, pattern),
                expected,
                "{text:?} against {pattern:?}"
            );
        }
    }

    #[test]
    fn globs_with_many_stars_do_not_backtrack_without_end() {
        // Recursive matching tried every split of the text for every `*`: this
        // took longer than libFuzzer's 10 s limit (fuzz/, target `text`).
        let text = format!("v{}#{}", "*".repeat(40), "*".repeat(40));
        let pattern = format!("{}0ywww{}", "*".repeat(60), "*".repeat(10));
        assert!(!path_matches(&text, &pattern));
        assert!(path_matches(&format!("{text}0ywww"), &pattern));
    }

    #[test]
    fn expiries_are_whole_seconds() {
        assert!(parse_expiry("2030-01-01T00:00:00Z").is_ok());
        assert!(parse_expiry("2030-01-01T00:00:00.5Z").is_err());
        assert!(parse_expiry("2030-01-01 00:00:00Z").is_err());
    }

    #[test]
    fn succinct_bins() {
        let s = SuccinctRoles {
            keyids: vec![],
            threshold: 1,
            bit_length: 8,
            name_prefix: "bin".into(),
        };
        let r = s.role_for("target");
        assert!(r.starts_with("bin-") && r.len() == 6, "{r}");
        assert!(s.is_delegated(&r));
        assert!(!s.is_delegated("bin-100"));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse::<Root>(&bytes, "root");
            let _ = parse::<Timestamp>(&bytes, "timestamp");
            let _ = parse::<Snapshot>(&bytes, "snapshot");
            let _ = parse::<Targets>(&bytes, "targets");
        }

        #[test]
        fn json_shaped_input_never_panics(version in 0u64..5, exp in ".{0,22}", ty in "(root|targets|snapshot|timestamp|x)", spec in "[0-9.]{0,6}") {
            let doc = serde_json::json!({"signed": {"_type": ty, "spec_version": spec, "version": version, "expires": exp,
                "keys": {}, "roles": {}, "meta": {"snapshot.json": {"version": version}}, "targets": {}},
                "signatures": [{"keyid": "a", "sig": "00"}]});
            let b = serde_json::to_vec(&doc).unwrap();
            let _ = parse::<Root>(&b, "root");
            let _ = parse::<Timestamp>(&b, "timestamp");
            let _ = parse::<Targets>(&b, "targets");
        }

        #[test]
        fn globs_never_panic(t in ".{0,12}", p in "[a-z*?\\[\\]!/-]{0,12}") {
            let _ = path_matches(&t, &p);
        }
    }
}
