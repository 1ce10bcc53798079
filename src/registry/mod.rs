//! A small client for the OCI distribution API, with what cosign's layout and
//! Harbor need and nothing more: manifests by tag or digest, blobs, uploads.
//!
//! Why not `oci-client`: it reads every response body whole (`bytes()`), so a
//! hostile registry could exhaust memory; here every read has a bound.
//!
//! Plain HTTP is used for loopback registries (as Docker does) and, with
//! `allow_insecure`, as a fallback for others. Auth: Basic, or the Docker
//! token flow (401 + `Bearer realm=..`), with credentials from flags or the
//! Docker client config.

pub mod auth;
pub mod cas;
pub mod hints;
pub mod manifest;
pub mod reference;
pub mod referrers;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use reqwest::{Method, StatusCode, header};

pub use crate::digest::sha256_digest;
use crate::http::{
    BodyError, Profile, Trust, builder_trusting, error_chain, parse_error_body, read_limited,
    root_cause,
};
use auth::Challenge;
pub use reference::Reference;

/// Largest manifest we read (containerd uses the same bound).
pub const MANIFEST_LIMIT: usize = 4 << 20;
/// Largest signature payload or signature config we read.
pub const SIGNATURE_BLOB_LIMIT: usize = 4 << 20;
const TOKEN_LIMIT: usize = 1 << 20;
const ERROR_BODY_LIMIT: usize = 64 << 10;
/// The `service` of Harbor's token challenge: the registry is a Harbor.
const HARBOR_SERVICE: &str = "harbor-registry";

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The manifest types every manifest request accepts.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach registry {registry}: {detail}")]
    Connect { registry: String, detail: String },
    #[error("{method} {url}: HTTP {status}{}", format_remote(code, message))]
    Status {
        method: String,
        url: String,
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    #[error("{url}: the response is larger than {limit} bytes; refusing to read it")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: content does not match its digest (expected {expected}, got {actual})")]
    DigestMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error(
        "registry {registry} refused our credentials{}: {hint}",
        detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    Unauthorized {
        registry: String,
        detail: Option<String>,
        hint: String,
    },
    /// Harbor answers a repository in a missing project as it answers a user
    /// without access (401); its REST API told us the project is missing.
    #[error(
        "project {project} not found in Harbor at {registry} (the image {registry}/{repository} names it): check the project's spelling, or create it first"
    )]
    ProjectNotFound {
        registry: String,
        project: String,
        repository: String,
    },
    #[error("{url}: unexpected response: {reason}")]
    BadResponse { url: String, reason: String },
    #[error("registry options: {0}")]
    Options(String),
}

fn format_remote(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(" {c}: {m}"),
        (None, Some(m)) => format!(": {m}"),
        (Some(c), None) => format!(" {c}"),
        (None, None) => String::new(),
    }
}

impl RegistryError {
    /// The HTTP status, for errors that carry one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<BodyError> for RegistryError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge { url, limit } => RegistryError::TooLarge { url, limit },
            BodyError::Read { url, detail } => RegistryError::BadResponse {
                url,
                reason: format!("reading the body: {detail}"),
            },
        }
    }
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Allow plain HTTP and unverified TLS for non-loopback registries.
    pub allow_insecure: bool,
    /// Extra CA certificate (PEM) to trust.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Explicit credentials; otherwise the Docker config is consulted.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The Docker client config directory (holding `config.json`).
    pub docker_config_dir: Option<PathBuf>,
}

#[derive(Clone)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Default)]
struct HostState {
    scheme: Option<&'static str>,
    credentials: Option<Option<Credentials>>,
    /// Use Basic auth on every request (the registry asked for it).
    basic: bool,
    /// The token service's realm and service name, once the registry named them.
    bearer: Option<(String, Option<String>)>,
    /// Tokens by scope.
    tokens: HashMap<String, String>,
    /// Scopes this invocation will need (see [`Client::plan`]), asked for
    /// together with the next token so that one token serves many images.
    planned: Vec<String>,
    /// Does the registry have a usable referrers API? `None` until a first
    /// answer said so; a registry that lacks it lacks it for every image.
    referrers_api: Option<bool>,
    /// `referrers_api` is `Some(false)` on a hint from an earlier run (see
    /// [`Client::assume_no_referrers_api`]), not on this run's own answer.
    referrers_assumed: bool,
}

impl HostState {
    /// A token for `scope`; a `pull,push` token serves a `pull` request too.
    fn token(&self, scope: &str) -> Option<String> {
        self.tokens
            .get(scope)
            .or_else(|| self.tokens.get(&format!("{scope},push")))
            .cloned()
    }
}

/// How many repositories one token request asks for: a token names each one
/// (Harbor's JWT grows by about 90 bytes a repository), and it travels in a
/// header that proxies cap at 8 KiB.
const SCOPES_PER_TOKEN: usize = 32;

/// A manifest as the registry served it.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub bytes: Bytes,
    pub media_type: String,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
}

pub struct Client {
    strict: reqwest::Client,
    lax: reqwest::Client,
    opts: RegistryOptions,
    hosts: Mutex<HashMap<String, HostState>>,
    /// Per registry: has a first request settled its scheme and its auth? Until
    /// one has, the others wait, so N concurrent images cost one challenge.
    settled: Mutex<HashMap<String, Arc<tokio::sync::Mutex<bool>>>>,
    /// One token request at a time, so concurrent images share its answer.
    token_fetch: tokio::sync::Mutex<()>,
    /// One referrers-API probe at a time while a registry's support is
    /// unknown, so N concurrent images learn it from one request.
    referrers_probe: tokio::sync::Mutex<()>,
    /// Where what is fetched by digest is kept (see [`Client::with_content_store`]).
    store: Option<cas::ContentStore>,
}

/// A response's Content-Type without its parameters ("" when it has none).
fn media_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn scope_for(repo: &str, push: bool) -> String {
    if push {
        format!("repository:{repo}:pull,push")
    } else {
        format!("repository:{repo}:pull")
    }
}

impl Client {
    pub fn new(opts: RegistryOptions) -> Result<Self, RegistryError> {
        let build = |lax: bool| {
            let trust = match (&opts.ca_cert_pem, lax) {
                (_, true) => Trust::Anyone,
                (Some(pem), false) => Trust::SystemAnd(pem),
                (None, false) => Trust::System,
            };
            builder_trusting(Profile::Transfer, trust)
                .map_err(|e| RegistryError::Options(format!("--registry-cacert: {e}")))?
                .pool_max_idle_per_host(32)
                .build()
                .map_err(|e| RegistryError::Options(format!("HTTP client: {e}")))
        };
        Ok(Client {
            strict: build(false)?,
            lax: build(true)?,
            opts,
            hosts: Mutex::new(HashMap::new()),
            settled: Mutex::new(HashMap::new()),
            token_fetch: tokio::sync::Mutex::new(()),
            referrers_probe: tokio::sync::Mutex::new(()),
            store: None,
        })
    }

    /// Keep blobs, and manifests fetched by digest, in `store`, and read them
    /// from there first ([`cas`]): a digest names its content for good.
    pub fn with_content_store(mut self, store: cas::ContentStore) -> Self {
        self.store = Some(store);
        self
    }

    /// Say which images this invocation will read (or, with `push`, write), so
    /// that a registry's first token covers all of them, up to
    /// [`SCOPES_PER_TOKEN`] repositories per token request.
    pub fn plan<'a>(&self, images: impl IntoIterator<Item = &'a Reference>, push: bool) {
        for r in images {
            let scope = scope_for(&r.repository, push);
            self.with_host(&r.registry, |h| {
                if !h.planned.contains(&scope) {
                    h.planned.push(scope);
                }
            });
        }
    }

    fn with_host<T>(&self, registry: &str, f: impl FnOnce(&mut HostState) -> T) -> T {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        // Called several times a request: no new key unless the registry is new.
        if let Some(h) = hosts.get_mut(registry) {
            return f(h);
        }
        f(hosts.entry(registry.to_string()).or_default())
    }

    fn http(&self) -> &reqwest::Client {
        if self.opts.allow_insecure {
            &self.lax
        } else {
            &self.strict
        }
    }

    /// `http` or `https` for a registry, probing once when insecure access is allowed.
    async fn scheme(&self, registry: &str) -> &'static str {
        if let Some(s) = self.with_host(registry, |h| h.scheme) {
            return s;
        }
        let scheme = if reference::is_loopback_registry(registry) {
            "http"
        } else if !self.opts.allow_insecure {
            "https"
        } else {
            let url = format!("https://{registry}/v2/");
            match self.lax.get(&url).send().await {
                Ok(_) => "https",
                Err(_) => "http",
            }
        };
        self.with_host(registry, |h| h.scheme = Some(scheme));
        scheme
    }

    /// A loopback registry answered our plain-HTTP request as a TLS server
    /// does (Go: "Client sent an HTTP request to an HTTPS server", nginx: "The
    /// plain HTTP request was sent to HTTPS port"): switch it to HTTPS.
    async fn switch_to_https(
        &self,
        registry: &str,
        resp: reqwest::Response,
    ) -> Result<Option<reqwest::Response>, RegistryError> {
        let plain_loopback =
            resp.url().scheme() == "http" && reference::is_loopback_registry(registry);
        if !plain_loopback || resp.status() != StatusCode::BAD_REQUEST {
            return Ok(Some(resp));
        }
        let url = resp.url().to_string();
        let mut body = read_limited(resp, ERROR_BODY_LIMIT)
            .await
            .unwrap_or_default();
        if body.is_empty() {
            // A HEAD answer has no body to tell; ask once with GET.
            if let Ok(probe) = self
                .strict
                .get(format!("http://{registry}/v2/"))
                .send()
                .await
            {
                body = read_limited(probe, ERROR_BODY_LIMIT)
                    .await
                    .unwrap_or_default();
            }
        }
        let text = String::from_utf8_lossy(&body);
        if text.contains("HTTPS server") || text.contains("HTTPS port") {
            self.with_host(registry, |h| h.scheme = Some("https"));
            return Ok(None);
        }
        let (code, message) = parse_error_body(&body);
        Err(RegistryError::Status {
            method: "request".into(),
            url,
            status: 400,
            code,
            message,
        })
    }

    fn credentials(&self, registry: &str) -> Option<Credentials> {
        if let Some(c) = self.with_host(registry, |h| h.credentials.clone()) {
            return c;
        }
        let creds = match (&self.opts.username, &self.opts.password) {
            (Some(u), Some(p)) => Some(Credentials {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => self.docker_config_credentials(registry),
        };
        self.with_host(registry, |h| h.credentials = Some(creds.clone()));
        creds
    }

    fn docker_config_credentials(&self, registry: &str) -> Option<Credentials> {
        let path = self.opts.docker_config_dir.as_ref()?.join("config.json");
        let file = std::fs::File::open(path).ok()?;
        let server = if registry == reference::DEFAULT_REGISTRY {
            "https://index.docker.io/v1/"
        } else {
            registry
        };
        match docker_credential::get_credential_from_reader(std::io::BufReader::new(file), server) {
            Ok(docker_credential::DockerCredential::UsernamePassword(username, password)) => {
                Some(Credentials { username, password })
            }
            _ => None,
        }
    }

    /// Send a request built by `make` (called again on an auth retry), handling
    /// the scheme, credentials and the token flow. The first request to a
    /// registry goes alone: it learns the scheme and how the registry wants
    /// credentials (its 401 is the only challenge); the others then send what
    /// it learned from the start.
    async fn send(
        &self,
        registry: &str,
        scope: &str,
        make: &(dyn Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder + Sync),
    ) -> Result<reqwest::Response, RegistryError> {
        let gate = {
            let mut all = self.settled.lock().unwrap_or_else(|p| p.into_inner());
            match all.get(registry) {
                Some(g) => g.clone(),
                None => all.entry(registry.to_string()).or_default().clone(),
            }
        };
        let mut first = Some(gate.lock().await);
        if first.as_deref() == Some(&true) {
            first = None;
        }
        let result = self.send_settled(registry, scope, make).await;
        if let Some(mut settled) = first {
            *settled = true;
        }
        result
    }

    async fn send_settled(
        &self,
        registry: &str,
        scope: &str,
        make: &(dyn Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder + Sync),
    ) -> Result<reqwest::Response, RegistryError> {
        let mut base = format!("{}://{registry}", self.scheme(registry).await);
        // A registry known to want tokens gets one before the request, not after a 401.
        let bearer = self.with_host(registry, |h| {
            h.token(scope).is_none().then(|| h.bearer.clone()).flatten()
        });
        if let Some((realm, service)) = bearer {
            self.get_token(registry, &realm, service.as_deref(), scope, None)
                .await?;
        }
        // The request for `base`, with whatever auth this registry has earned so far.
        let authed = |base: &str| {
            let req = make(self.http(), base);
            let (token, basic) = self.with_host(registry, |h| (h.token(scope), h.basic));
            match (token, basic.then(|| self.credentials(registry)).flatten()) {
                (Some(t), _) => req.bearer_auth(t),
                (None, Some(c)) => req.basic_auth(c.username, Some(c.password)),
                (None, None) => req,
            }
        };
        for attempt in 0..2 {
            let resp = authed(&base)
                .send()
                .await
                .map_err(|e| self.connect_error(registry, &e))?;
            let resp = match self.switch_to_https(registry, resp).await? {
                Some(r) => r,
                None => {
                    base = format!("https://{registry}");
                    authed(&base)
                        .send()
                        .await
                        .map_err(|e| self.connect_error(registry, &e))?
                }
            };
            if resp.status() != StatusCode::UNAUTHORIZED || attempt == 1 {
                if resp.status() == StatusCode::UNAUTHORIZED {
                    let detail = error_detail(resp).await;
                    return Err(self.refused(registry, &base, scope, detail).await);
                }
                return Ok(resp);
            }
            let challenge = resp
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(auth::parse_challenge);
            match challenge {
                Some(Challenge::Bearer { realm, service, .. }) => {
                    // The token we sent, if any, was refused: ask for a new one.
                    let refused = self.with_host(registry, |h| {
                        h.bearer = Some((realm.clone(), service.clone()));
                        h.token(scope)
                    });
                    self.get_token(registry, &realm, service.as_deref(), scope, refused)
                        .await?;
                }
                Some(Challenge::Basic) if self.credentials(registry).is_some() => {
                    self.with_host(registry, |h| h.basic = true);
                }
                _ => {
                    let detail = error_detail(resp).await;
                    return Err(self.refused(registry, &base, scope, detail).await);
                }
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Make sure there is a token for `scope` other than `refused`: one request
    /// at a time, asking for the planned scopes that have none yet as well.
    async fn get_token(
        &self,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        refused: Option<String>,
    ) -> Result<(), RegistryError> {
        let _one_at_a_time = self.token_fetch.lock().await;
        let scopes = self.with_host(registry, |h| {
            let current = h.token(scope);
            if current.is_some() && current != refused {
                return Vec::new();
            }
            let mut scopes = vec![scope.to_string()];
            let wanted = h
                .planned
                .iter()
                .filter(|p| *p != scope && h.token(p).is_none());
            scopes.extend(wanted.take(SCOPES_PER_TOKEN - 1).cloned());
            scopes
        });
        if scopes.is_empty() {
            return Ok(());
        }
        let token = self.fetch_token(registry, realm, service, &scopes).await?;
        self.with_host(registry, |h| {
            for s in scopes {
                h.tokens.insert(s, token.clone());
            }
        });
        Ok(())
    }

    fn connect_error(&self, registry: &str, e: &reqwest::Error) -> RegistryError {
        // Read the whole chain to tell TLS trouble apart; show its innermost cause.
        let chain = error_chain(e);
        let detail = root_cause(e);
        let hint = if chain.contains("certificate")
            || chain.contains("Certificate")
            || chain.contains("tls")
        {
            "; trust its CA with --registry-cacert, or pass --allow-insecure-registry"
        } else {
            "; check the address and that the registry is running"
        };
        RegistryError::Connect {
            registry: registry.to_string(),
            detail: format!("{detail}{hint}"),
        }
    }

    /// A 401 on a repository request. Harbor gives the same 401 for wrong
    /// credentials, for a user without a role in the project and for a project
    /// that does not exist (a typo); its REST API tells them apart: the
    /// project existence check (`HEAD /api/v2.0/projects?project_name=`)
    /// answers 401 to wrong credentials, 404 to a missing project, 200 else.
    async fn refused(
        &self,
        registry: &str,
        base: &str,
        scope: &str,
        detail: Option<String>,
    ) -> RegistryError {
        let harbor = self.with_host(registry, |h| {
            h.bearer
                .as_ref()
                .is_some_and(|(_, service)| service.as_deref() == Some(HARBOR_SERVICE))
        });
        let repository = scope
            .strip_prefix("repository:")
            .and_then(|s| s.rsplit_once(':'))
            .map(|(repo, _)| repo.to_string());
        let (Some(credentials), Some(repository), true) =
            (self.credentials(registry), repository, harbor)
        else {
            return self.unauthorized(registry, detail);
        };
        let project = repository.split('/').next().unwrap_or_default().to_string();
        let Ok(mut url) = reqwest::Url::parse(&format!("{base}/api/v2.0/projects")) else {
            return self.unauthorized(registry, detail);
        };
        url.query_pairs_mut().append_pair("project_name", &project);
        let probe = self
            .http()
            .head(url)
            .basic_auth(&credentials.username, Some(&credentials.password))
            .send()
            .await;
        match probe.map(|r| r.status()) {
            Ok(StatusCode::NOT_FOUND) => RegistryError::ProjectNotFound {
                registry: registry.to_string(),
                project,
                repository,
            },
            Ok(StatusCode::OK) => {
                let action = if scope.ends_with("push") {
                    "push to"
                } else {
                    "pull from"
                };
                RegistryError::Unauthorized {
                    registry: registry.to_string(),
                    detail,
                    hint: format!(
                        "Harbor accepts the login of {:?}, but it may not {action} {repository}: give that user a role in project {project}, or use another account",
                        credentials.username
                    ),
                }
            }
            _ => self.unauthorized(registry, detail),
        }
    }

    fn unauthorized(&self, registry: &str, detail: Option<String>) -> RegistryError {
        let hint = if self.credentials(registry).is_some() {
            "check the username and password".to_string()
        } else {
            "give --registry-username with REGISTRY_PASSWORD or --registry-password-file, or `docker login` first".to_string()
        };
        RegistryError::Unauthorized {
            registry: registry.to_string(),
            detail,
            hint,
        }
    }

    async fn fetch_token(
        &self,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<String, RegistryError> {
        let mut url = reqwest::Url::parse(realm).map_err(|e| RegistryError::BadResponse {
            url: realm.to_string(),
            reason: format!("the token realm is not a URL: {e}"),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(RegistryError::BadResponse {
                url: realm.to_string(),
                reason: "the token realm must be http or https".into(),
            });
        }
        let credentials = self.credentials(registry);
        {
            let mut q = url.query_pairs_mut();
            if let Some(c) = &credentials {
                q.append_pair("account", &c.username);
            }
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for scope in scopes {
                q.append_pair("scope", scope);
            }
        }
        let mut req = self.http().get(url.clone());
        if let Some(c) = credentials {
            req = req.basic_auth(c.username, Some(c.password));
        }
        let resp = req.send().await.map_err(|e| RegistryError::Connect {
            registry: registry.to_string(),
            detail: format!("token service {realm}: {}", error_chain(&e)),
        })?;
        if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
            let detail = error_detail(resp).await;
            return Err(self.unauthorized(registry, detail));
        }
        let resp = check_status(resp, "GET").await?;
        let body = read_limited(resp, TOKEN_LIMIT).await?;
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let t: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| RegistryError::BadResponse {
                url: url.to_string(),
                reason: format!("token response is not JSON: {e}"),
            })?;
        let token = if t.token.is_empty() {
            t.access_token
        } else {
            t.token
        };
        if token.is_empty() {
            return Err(RegistryError::BadResponse {
                url: url.to_string(),
                reason: "the token response has no token".into(),
            });
        }
        Ok(token)
    }

    /// Fetch a manifest by tag or digest; `None` when the registry says 404.
    pub async fn get_manifest(&self, r: &Reference) -> Result<Option<Manifest>, RegistryError> {
        self.fetch_manifest(r, false).await
    }

    /// A manifest by digest that is content, not an image someone asked for
    /// (a bundle referrer): from the content store when it is there, else
    /// fetched and kept. An image's own manifest is always asked for, so that
    /// an image gone from the registry is reported gone.
    pub async fn get_content_manifest(
        &self,
        r: &Reference,
    ) -> Result<Option<Manifest>, RegistryError> {
        let (Some(store), Some(d)) = (&self.store, &r.digest) else {
            return self.fetch_manifest(r, false).await;
        };
        if let Some((media_type, bytes)) = store.manifest(d, MANIFEST_LIMIT) {
            return Ok(Some(Manifest {
                bytes,
                media_type,
                digest: d.clone(),
            }));
        }
        let fetched = self.fetch_manifest(r, false).await?;
        if let Some(m) = &fetched {
            store.keep_manifest(&m.digest, &m.media_type, &m.bytes);
        }
        Ok(fetched)
    }

    /// As [`Client::get_manifest`], asking for a push-capable token (used by
    /// signing, so one token serves the whole repository operation).
    pub async fn get_manifest_for_push(
        &self,
        r: &Reference,
    ) -> Result<Option<Manifest>, RegistryError> {
        self.fetch_manifest(r, true).await
    }

    async fn fetch_manifest(
        &self,
        r: &Reference,
        push_scope: bool,
    ) -> Result<Option<Manifest>, RegistryError> {
        let path = format!("/v2/{}/manifests/{}", r.repository, r.manifest_ref());
        let resp = self
            .send(
                &r.registry,
                &scope_for(&r.repository, push_scope),
                &|c, base| {
                    c.get(format!("{base}{path}"))
                        .header(header::ACCEPT, MANIFEST_ACCEPT)
                },
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = check_status(resp, "GET").await?;
        let url = resp.url().to_string();
        let media_type = media_type(&resp);
        let bytes = read_limited(resp, MANIFEST_LIMIT).await?;
        let digest = sha256_digest(&bytes);
        if let Some(expected) = &r.digest
            && *expected != digest
        {
            return Err(RegistryError::DigestMismatch {
                url,
                expected: expected.clone(),
                actual: digest,
            });
        }
        Ok(Some(Manifest {
            bytes,
            media_type,
            digest,
        }))
    }

    /// Fetch a blob, refusing more than `limit` bytes and checking its digest.
    pub async fn get_blob(
        &self,
        r: &Reference,
        digest: &str,
        limit: usize,
    ) -> Result<Bytes, RegistryError> {
        if let Some(bytes) = self.store.as_ref().and_then(|s| s.blob(digest, limit)) {
            return Ok(bytes);
        }
        let path = format!("/v2/{}/blobs/{digest}", r.repository);
        let resp = self
            .send(&r.registry, &scope_for(&r.repository, false), &|c, base| {
                c.get(format!("{base}{path}"))
            })
            .await?;
        let resp = check_status(resp, "GET").await?;
        let url = resp.url().to_string();
        let bytes = read_limited(resp, limit).await?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(RegistryError::DigestMismatch {
                url,
                expected: digest.to_string(),
                actual,
            });
        }
        if let Some(store) = &self.store {
            store.keep_blob(digest, &bytes);
        }
        Ok(bytes)
    }

    pub async fn blob_exists(&self, r: &Reference, digest: &str) -> Result<bool, RegistryError> {
        let path = format!("/v2/{}/blobs/{digest}", r.repository);
        let resp = self
            .send(&r.registry, &scope_for(&r.repository, true), &|c, base| {
                c.head(format!("{base}{path}"))
            })
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(check_status(resp, "HEAD").await.err().unwrap_or_else(|| {
                RegistryError::BadResponse {
                    url: path.clone(),
                    reason: "unexpected status".into(),
                }
            })),
        }
    }

    /// Upload a blob (POST an upload session, then PUT the content with its digest).
    pub async fn put_blob(
        &self,
        r: &Reference,
        digest: &str,
        data: Bytes,
    ) -> Result<(), RegistryError> {
        if self.blob_exists(r, digest).await? {
            return Ok(());
        }
        let scope = scope_for(&r.repository, true);
        let path = format!("/v2/{}/blobs/uploads/", r.repository);
        let resp = self
            .send(&r.registry, &scope, &|c, base| {
                c.post(format!("{base}{path}"))
                    .header(header::CONTENT_LENGTH, "0")
            })
            .await?;
        let resp = check_status(resp, "POST").await?;
        let base_url = resp.url().clone();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RegistryError::BadResponse {
                url: base_url.to_string(),
                reason: "the upload session has no Location".into(),
            })?;
        let mut upload = base_url
            .join(location)
            .map_err(|e| RegistryError::BadResponse {
                url: base_url.to_string(),
                reason: format!("bad upload Location {location:?}: {e}"),
            })?;
        upload.query_pairs_mut().append_pair("digest", digest);
        let upload = upload.to_string();
        let resp = self
            .send(&r.registry, &scope, &|c, _| {
                c.put(&upload)
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .body(data.clone())
            })
            .await?;
        check_status(resp, "PUT").await?;
        Ok(())
    }

    /// Put a manifest at `r`'s tag (or digest); returns its digest.
    pub async fn put_manifest(
        &self,
        r: &Reference,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<String, RegistryError> {
        self.push_manifest(r, bytes, media_type)
            .await
            .map(|p| p.digest)
    }

    /// Put a manifest and say whether the registry indexed its `subject`.
    pub async fn push_manifest(
        &self,
        r: &Reference,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<Pushed, RegistryError> {
        let path = format!("/v2/{}/manifests/{}", r.repository, r.manifest_ref());
        let resp = self
            .send(&r.registry, &scope_for(&r.repository, true), &|c, base| {
                c.request(Method::PUT, format!("{base}{path}"))
                    .header(header::CONTENT_TYPE, media_type)
                    .body(bytes.clone())
            })
            .await?;
        let resp = check_status(resp, "PUT").await?;
        let oci_subject = resp
            .headers()
            .get("OCI-Subject")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Pushed {
            digest: sha256_digest(&bytes),
            oci_subject,
        })
    }
}

/// What a manifest PUT told us.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `sha256:<hex>` of what was pushed.
    pub digest: String,
    /// The `OCI-Subject` header: the registry's referrers API indexed the
    /// manifest's subject (this digest).
    pub oci_subject: Option<String>,
}

/// Turn a non-success response into a `Status` error, reading Harbor's /
/// distribution's `{"errors":[{code,message}]}` body when there is one.
async fn check_status(
    resp: reqwest::Response,
    method: &str,
) -> Result<reqwest::Response, RegistryError> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let url = resp.url().to_string();
    let (code, message) = error_parts(resp).await;
    Err(RegistryError::Status {
        method: method.to_string(),
        url,
        status,
        code,
        message,
    })
}

async fn error_parts(resp: reqwest::Response) -> (Option<String>, Option<String>) {
    let body = read_limited(resp, ERROR_BODY_LIMIT)
        .await
        .unwrap_or_default();
    parse_error_body(&body)
}

async fn error_detail(resp: reqwest::Response) -> Option<String> {
    match error_parts(resp).await {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (c, m) => c.or(m),
    }
}
