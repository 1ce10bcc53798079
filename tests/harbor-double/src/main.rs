//! harbor-double: a test double of Harbor's API in front of a real
//! docker-registry, written from the project's Harbor spec (shapes, codes and
//! messages). Tests only: Harbor itself cannot be fetched where tests run.
//!
//! harbor-double --listen HOST:PORT --upstream http://127.0.0.1:5055
//!               --admin-password-file F [--namespace NS] [--version v2.7.1]
//!               [--tls-cert F --tls-key F [--redirect-from HOST:PORT]]
//!
//! With --tls-cert/--tls-key it serves HTTPS on --listen, as Harbor's nginx
//! does with an `https` block, and --redirect-from is the http port that
//! answers 308 to https.
//!
//! Every repository is stored upstream under NS/ so that doubles sharing one
//! registry never see each other's images.

mod tls;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, head, put};
use base64::Engine as _;
use serde_json::{Value, json};

#[derive(Clone)]
struct Project {
    id: u64,
    name: String,
    metadata: BTreeMap<String, String>,
    creation_time: String,
}

impl Project {
    /// Harbor's API takes a project by name or by numeric id.
    fn is(&self, name_or_id: &str) -> bool {
        self.name == name_or_id || self.id.to_string() == name_or_id
    }
}

/// Harbor's 404 for a project it does not have.
fn project_not_found(p: &str) -> Response {
    err(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        &format!("project {p} not found"),
    )
}

struct Inner {
    projects: Vec<Project>,
    tokens: HashSet<String>,
    next_id: u64,
    /// (repository, subject digest) -> descriptors of the manifests pushed with
    /// that `subject` (Harbor's referrers index, kept in memory).
    referrers: BTreeMap<(String, String), Vec<Value>>,
}

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const COSIGN_OCI11_SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

#[derive(Clone)]
struct App {
    inner: Arc<Mutex<Inner>>,
    upstream: String,
    namespace: String,
    public_url: String,
    password: String,
    version: String,
    /// Components `/health` reports unhealthy (--unhealthy NAME, repeatable).
    unhealthy: Vec<String>,
    http: reqwest::Client,
}

fn err(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "{}\n",
        json!({"errors": [{"code": code, "message": message}]})
    );
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

fn json_resp(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn now() -> String {
    "2026-11-26T12:00:00.000Z".to_string()
}

fn rand_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    for (i, x) in b.iter_mut().enumerate() {
        *x = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as usize
            ^ (i * 2654435761)) as u8;
    }
    hex::encode(b)
}

impl App {
    fn minor(&self) -> u32 {
        self.version
            .trim_start_matches('v')
            .split('.')
            .nth(1)
            .and_then(|m| m.parse().ok())
            .unwrap_or(7)
    }

    /// Basic admin credentials?
    fn basic_ok(&self, headers: &HeaderMap) -> Option<bool> {
        let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let b64 = v.strip_prefix("Basic ")?;
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let s = String::from_utf8(raw).ok()?;
        Some(s == format!("admin:{}", self.password))
    }

    fn bearer_ok(&self, headers: &HeaderMap) -> Option<bool> {
        let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let t = v.strip_prefix("Bearer ")?;
        Some(self.inner.lock().unwrap().tokens.contains(t))
    }

    fn project(&self, name_or_id: &str) -> Option<Project> {
        let inner = self.inner.lock().unwrap();
        inner.projects.iter().find(|p| p.is(name_or_id)).cloned()
    }

    fn project_json(&self, p: &Project) -> Value {
        let mut meta = serde_json::Map::new();
        for (k, v) in &p.metadata {
            meta.insert(k.clone(), Value::String(v.clone()));
        }
        json!({"project_id": p.id, "owner_id": 1, "name": p.name, "owner_name": "admin",
               "creation_time": p.creation_time, "update_time": p.creation_time,
               "togglable": true, "current_user_role_id": 1, "current_user_role_ids": [1],
               "metadata": meta, "cve_allowlist": {"id": p.id, "project_id": p.id, "items": []}})
    }

    fn up(&self, path: &str) -> String {
        format!("{}/v2/{}/{}", self.upstream, self.namespace, path)
    }

    /// Tags of repository `repo` ("project/name") upstream.
    async fn tags(&self, repo: &str) -> Vec<String> {
        let Ok(r) = self
            .http
            .get(self.up(&format!("{repo}/tags/list")))
            .send()
            .await
        else {
            return Vec::new();
        };
        let v: Value = r.json().await.unwrap_or(Value::Null);
        v["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// (digest, media type, bytes) of a manifest upstream.
    async fn manifest(&self, repo: &str, reference: &str) -> Option<(String, String, Vec<u8>)> {
        let r = self
            .http
            .get(self.up(&format!("{repo}/manifests/{reference}")))
            .header(header::ACCEPT, "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        let mt = r
            .headers()
            .get(header::CONTENT_TYPE)?
            .to_str()
            .ok()?
            .to_string();
        let bytes = r.bytes().await.ok()?.to_vec();
        use sha2::Digest;
        Some((
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes))),
            mt,
            bytes,
        ))
    }

    /// Accessory `type` of a manifest pushed with a `subject`, by Harbor's subject
    /// middleware: a cosign OCI 1.1 signature from v2.11, a sigstore bundle from
    /// v2.15; anything else a plain subject accessory (v2.8+).
    fn subject_accessory_type(&self, artifact_type: &str) -> &'static str {
        match artifact_type {
            BUNDLE if self.minor() >= 15 => "signature.cosign",
            COSIGN_OCI11_SIG if self.minor() >= 11 => "signature.cosign",
            _ => "subject.accessory",
        }
    }

    fn accessory_json(
        &self,
        repo: &str,
        subject: &str,
        digest: &str,
        size: usize,
        kind: &str,
    ) -> Value {
        let mut a = json!({"id": 1, "artifact_id": 2, "subject_artifact_id": 1, "size": size,
                           "digest": digest, "type": kind,
                           "icon": "sha256:20401d5b3a0f6dbc607c8d732eb08471af4ae6b19811a4efce8c6a724aed2882",
                           "creation_time": now()});
        if self.minor() >= 8 {
            a["subject_artifact_digest"] = json!(subject);
            a["subject_artifact_repo"] = json!(repo);
        }
        a
    }

    /// The accessories of `subject`: Harbor's cosign middleware rule (a `.sig`
    /// tag whose manifest references a simple-signing descriptor is a
    /// `signature.cosign` accessory), then what the subject middleware recorded.
    async fn accessories(&self, repo: &str, subject: &str) -> Vec<Value> {
        let mut out = Vec::new();
        if let Some(hex) = subject.strip_prefix("sha256:")
            && let Some((digest, _, bytes)) =
                self.manifest(repo, &format!("sha256-{hex}.sig")).await
            && let Ok(m) = serde_json::from_slice::<Value>(&bytes)
        {
            let mut descs = vec![m["config"].clone()];
            descs.extend(m["layers"].as_array().cloned().unwrap_or_default());
            if descs
                .iter()
                .any(|d| d["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json")
            {
                out.push(self.accessory_json(
                    repo,
                    subject,
                    &digest,
                    bytes.len(),
                    "signature.cosign",
                ));
            }
        }
        let referrers = self.referrers_of(repo, subject);
        for r in referrers {
            let kind = self.subject_accessory_type(r["artifactType"].as_str().unwrap_or(""));
            out.push(self.accessory_json(
                repo,
                subject,
                r["digest"].as_str().unwrap_or(""),
                r["size"].as_u64().unwrap_or(0) as usize,
                kind,
            ));
        }
        out
    }

    fn referrers_of(&self, repo: &str, subject: &str) -> Vec<Value> {
        if self.minor() < 8 {
            return Vec::new(); // v2.7 has no subject middleware
        }
        let inner = self.inner.lock().unwrap();
        inner
            .referrers
            .get(&(repo.to_string(), subject.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// Is `digest` in `repo` itself a cosign signature (pulled without a check)?
    fn is_signature_artifact(&self, repo: &str, digest: &str) -> bool {
        let inner = self.inner.lock().unwrap();
        inner.referrers.iter().any(|((r, _), list)| {
            r == repo
                && list.iter().any(|d| {
                    d["digest"] == digest
                        && self.subject_accessory_type(d["artifactType"].as_str().unwrap_or(""))
                            == "signature.cosign"
                })
        })
    }

    async fn artifacts(&self, repo: &str, with_accessory: bool) -> Vec<Value> {
        let mut by_digest: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        for tag in self.tags(repo).await {
            if tag.starts_with("sha256-") && tag.ends_with(".sig") {
                continue; // accessories are hidden from the list
            }
            if let Some((d, mt, _)) = self.manifest(repo, &tag).await {
                by_digest
                    .entry(d)
                    .or_insert_with(|| (mt, Vec::new()))
                    .1
                    .push(tag);
            }
        }
        let mut out = Vec::new();
        for (i, (digest, (mt, tags))) in by_digest.into_iter().enumerate() {
            let accessories = if with_accessory {
                self.accessories(repo, &digest).await
            } else {
                Vec::new()
            };
            out.push(json!({
                "id": i + 1, "type": "IMAGE", "media_type": "application/vnd.docker.container.image.v1+json",
                "manifest_media_type": mt, "project_id": 1, "repository_id": 1, "digest": digest,
                "push_time": now(), "pull_time": now(),
                "tags": tags.iter().enumerate().map(|(j, t)| json!({"id": j + 1, "repository_id": 1, "artifact_id": i + 1, "name": t, "push_time": now(), "pull_time": now(), "immutable": false})).collect::<Vec<_>>(),
                "accessories": accessories,
            }));
        }
        out
    }

    fn challenge(&self, scope: Option<String>) -> Response {
        let mut v = format!(
            "Bearer realm=\"{}/service/token\",service=\"harbor-registry\"",
            self.public_url
        );
        if let Some(s) = scope {
            v.push_str(&format!(",scope=\"{s}\""));
        }
        let mut r = err(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "unauthorized: unauthorized",
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_str(&v).unwrap());
        r.headers_mut().insert(
            "Docker-Distribution-Api-Version",
            HeaderValue::from_static("registry/2.0"),
        );
        r
    }
}

async fn health(State(app): State<App>) -> Response {
    let names = [
        "core",
        "database",
        "jobservice",
        "portal",
        "redis",
        "registry",
        "registryctl",
    ];
    let components: Vec<Value> = names
        .iter()
        .map(|n| {
            if app.unhealthy.iter().any(|u| u == n) {
                json!({"name": n, "status": "unhealthy", "error": "failed to check the health status: timeout"})
            } else {
                json!({"name": n, "status": "healthy"})
            }
        })
        .collect();
    let status = if app.unhealthy.is_empty() {
        "healthy"
    } else {
        "unhealthy"
    };
    // Harbor answers 200 either way: the status field is what counts.
    json_resp(
        StatusCode::OK,
        &json!({"components": components, "status": status}),
    )
}

async fn ping() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain")],
        "Pong",
    )
        .into_response()
}

async fn systeminfo(State(app): State<App>, headers: HeaderMap) -> Response {
    let mut v = json!({"auth_mode": "db_auth", "self_registration": false, "harbor_version": format!("{}-6015b3ef", app.version)});
    if app.basic_ok(&headers) == Some(true) {
        let host = app
            .public_url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_string();
        v["external_url"] = json!(app.public_url);
        v["registry_url"] = json!(host);
        v["has_ca_root"] = json!(false);
        v["project_creation_restriction"] = json!("everyone");
        v["read_only"] = json!(false);
        v["registry_storage_provider_name"] = json!("filesystem");
        v["notification_enable"] = json!(true);
    }
    json_resp(StatusCode::OK, &v)
}

async fn current_user(State(app): State<App>, headers: HeaderMap) -> Response {
    if app.basic_ok(&headers) == Some(true) {
        json_resp(
            StatusCode::OK,
            &json!({"user_id": 1, "username": "admin", "sysadmin_flag": true}),
        )
    } else {
        err(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "unauthorized")
    }
}

/// Harbor's CSRF rule: a basic-auth write that carries the `sid` cookie fails.
fn csrf(headers: &HeaderMap) -> Option<Response> {
    let cookie = headers.get(header::COOKIE)?.to_str().ok()?;
    cookie
        .contains("sid=")
        .then(|| err(StatusCode::FORBIDDEN, "FORBIDDEN", "CSRF token invalid"))
}

fn need_admin(app: &App, headers: &HeaderMap) -> Option<Response> {
    match app.basic_ok(headers) {
        Some(true) => None,
        _ => Some(err(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "unauthorized",
        )),
    }
}

async fn projects_list(
    State(app): State<App>,
    Query(q): Query<BTreeMap<String, String>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let name = q.get("name").or(q.get("project_name")).cloned();
    let list: Vec<Value> = {
        let inner = app.inner.lock().unwrap();
        inner
            .projects
            .iter()
            .filter(|p| name.as_ref().is_none_or(|n| &p.name == n))
            .cloned()
            .collect::<Vec<_>>()
    }
    .iter()
    .map(|p| app.project_json(p))
    .collect();
    if method == Method::HEAD {
        // HEAD is the existence check: for authenticated users only (bad
        // credentials count as anonymous in Harbor).
        if app.basic_ok(&headers) != Some(true) {
            return err(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "unauthorized");
        }
        return if list.is_empty() {
            StatusCode::NOT_FOUND.into_response()
        } else {
            StatusCode::OK.into_response()
        };
    }
    let mut r = json_resp(StatusCode::OK, &Value::Array(list.clone()));
    r.headers_mut()
        .insert("X-Total-Count", HeaderValue::from(list.len()));
    r
}

async fn project_create(State(app): State<App>, headers: HeaderMap, body: String) -> Response {
    if let Some(r) = csrf(&headers).or_else(|| need_admin(&app, &headers)) {
        return r;
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return err(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "invalid request body",
        );
    };
    let name = v["project_name"].as_str().unwrap_or("").to_string();
    let valid = !name.is_empty() && name.len() <= 255 && {
        let b = name.as_bytes();
        let an = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        an(b[0])
            && an(b[b.len() - 1])
            && b.windows(2).all(|w| an(w[0]) || an(w[1]))
            && b.iter().all(|c| an(*c) || b"._-".contains(c))
    };
    if !valid {
        return err(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "project name is not in lower case or contains illegal characters",
        );
    }
    let mut metadata = BTreeMap::new();
    if let Some(m) = v["metadata"].as_object() {
        for (k, val) in m {
            let Some(s) = val.as_str() else {
                return err(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "UNPROCESSABLE_ENTITY",
                    &format!("metadata.{k} in body must be of type string"),
                );
            };
            metadata.insert(k.clone(), s.to_string());
        }
    }
    let p = metadata
        .get("public")
        .cloned()
        .unwrap_or_else(|| "false".into());
    if p != "true" && p != "false" {
        return err(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!("invalid value: {p}"),
        );
    }
    metadata.insert("public".into(), p);
    let mut inner = app.inner.lock().unwrap();
    if inner.projects.iter().any(|x| x.name == name) {
        return err(
            StatusCode::CONFLICT,
            "CONFLICT",
            &format!("The project named {name} already exists"),
        );
    }
    inner.next_id += 1;
    let id = inner.next_id;
    inner.projects.push(Project {
        id,
        name,
        metadata,
        creation_time: now(),
    });
    let mut r = StatusCode::CREATED.into_response();
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&format!("/api/v2.0/projects/{id}")).unwrap(),
    );
    r
}

async fn project_get(State(app): State<App>, Path(p): Path<String>) -> Response {
    match app.project(&p) {
        Some(p) => json_resp(StatusCode::OK, &app.project_json(&p)),
        None => project_not_found(&p),
    }
}

async fn project_put(
    State(app): State<App>,
    headers: HeaderMap,
    Path(p): Path<String>,
    body: String,
) -> Response {
    if let Some(r) = csrf(&headers).or_else(|| need_admin(&app, &headers)) {
        return r;
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return err(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "invalid request body",
        );
    };
    let mut inner = app.inner.lock().unwrap();
    let Some(proj) = inner.projects.iter_mut().find(|x| x.is(&p)) else {
        return project_not_found(&p);
    };
    if let Some(m) = v["metadata"].as_object() {
        for (k, val) in m {
            let Some(s) = val.as_str() else {
                return err(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "UNPROCESSABLE_ENTITY",
                    &format!("metadata.{k} in body must be of type string"),
                );
            };
            proj.metadata.insert(k.clone(), s.to_string());
        }
    }
    StatusCode::OK.into_response()
}

async fn metadatas_get(State(app): State<App>, Path(p): Path<String>) -> Response {
    match app.project(&p) {
        Some(p) => json_resp(StatusCode::OK, &serde_json::to_value(&p.metadata).unwrap()),
        None => project_not_found(&p),
    }
}

async fn metadata_put(
    State(app): State<App>,
    headers: HeaderMap,
    Path((p, key)): Path<(String, String)>,
    body: String,
) -> Response {
    if let Some(r) = csrf(&headers).or_else(|| need_admin(&app, &headers)) {
        return r;
    }
    let known = [
        "public",
        "enable_content_trust",
        "enable_content_trust_cosign",
        "prevent_vul",
        "severity",
        "auto_scan",
        "reuse_sys_cve_allowlist",
        "retention_id",
    ];
    if !known.contains(&key.as_str()) {
        return err(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!("invalid key: {key}"),
        );
    }
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let raw = v[&key].as_str().unwrap_or("").to_string();
    let norm = match raw.as_str() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => "true",
        "0" | "f" | "F" | "FALSE" | "false" | "False" => "false",
        _ => {
            return err(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("invalid value: {raw}"),
            );
        }
    };
    let mut inner = app.inner.lock().unwrap();
    let Some(proj) = inner.projects.iter_mut().find(|x| x.is(&p)) else {
        return project_not_found(&p);
    };
    proj.metadata.insert(key, norm.to_string());
    StatusCode::OK.into_response()
}

async fn artifacts_list(
    State(app): State<App>,
    Path((p, r)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if app.project(&p).is_none() {
        return project_not_found(&p);
    }
    let repo = format!("{p}/{}", r.replace("%2F", "/"));
    let with_acc = q.get("with_accessory").is_none_or(|v| v != "false");
    json_resp(
        StatusCode::OK,
        &Value::Array(app.artifacts(&repo, with_acc).await),
    )
}

async fn artifact_get(
    State(app): State<App>,
    Path((p, r, reference)): Path<(String, String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let repo = format!("{p}/{}", r.replace("%2F", "/"));
    let with_acc = q.get("with_accessory").is_none_or(|v| v != "false");
    let Some((digest, _, _)) = app.manifest(&repo, &reference).await else {
        return err(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("artifact {repo}:{reference} not found"),
        );
    };
    let all = app.artifacts(&repo, with_acc).await;
    match all.into_iter().find(|a| a["digest"] == digest.as_str()) {
        Some(a) => json_resp(StatusCode::OK, &a),
        None => err(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("artifact {repo}:{reference} not found"),
        ),
    }
}

async fn token(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if q.get("service").is_some_and(|s| s != "harbor-registry") {
        return (
            StatusCode::BAD_REQUEST,
            format!("Unable to handle service: {}", q["service"]),
        )
            .into_response();
    }
    match app.basic_ok(&headers) {
        Some(false) => return StatusCode::UNAUTHORIZED.into_response(),
        None if !q.contains_key("scope") => return StatusCode::UNAUTHORIZED.into_response(),
        _ => {}
    }
    let t = format!(
        "{}.{}",
        rand_hex(16),
        app.inner.lock().unwrap().tokens.len()
    );
    // Anonymous tokens are not recorded: they only allow what anonymous allows.
    if app.basic_ok(&headers) == Some(true) {
        app.inner.lock().unwrap().tokens.insert(t.clone());
    }
    json_resp(
        StatusCode::OK,
        &json!({"token": t, "access_token": "", "expires_in": 1800, "issued_at": now()}),
    )
}

/// `/v2/...`: auth, cosign enforcement, then a streaming proxy to the registry.
async fn registry(State(app): State<App>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let method = req.method().clone();
    let headers = req.headers().clone();
    let authed = app.bearer_ok(&headers) == Some(true) || app.basic_ok(&headers) == Some(true);
    let rest = path
        .trim_start_matches("/v2")
        .trim_start_matches('/')
        .to_string();
    let (repo, kind, reference) = split_v2(&rest);
    let project = repo
        .as_ref()
        .and_then(|r| r.split('/').next().map(str::to_string));
    let public = project
        .as_ref()
        .and_then(|p| app.project(p))
        .is_some_and(|p| p.metadata.get("public").map(String::as_str) == Some("true"));
    let read = method == Method::GET || method == Method::HEAD;
    let anonymous_read = read && public && repo.is_some();
    if !authed && !anonymous_read {
        let scope = repo.as_ref().map(|r| format!("repository:{r}:pull,push"));
        return app.challenge(scope);
    }
    if rest.is_empty() {
        return json_resp(StatusCode::OK, &json!({}));
    }
    let Some(repo) = repo else {
        return err(StatusCode::NOT_FOUND, "NOT_FOUND", "not found");
    };
    // Harbor never says "no such project" on /v2/: its token service grants a
    // repository in a missing project no actions at all, and its v2auth check
    // answers the request 401, as for a user without access (deliberately, so
    // that project names cannot be probed); only the REST API tells.
    let Some(proj) = project.as_ref().and_then(|p| app.project(p)) else {
        let action = if read { "pull" } else { "push" };
        let why = format!("unauthorized to access repository: {repo}, action: {action}");
        let mut r = app.challenge(Some(format!("repository:{repo}:pull,push")));
        let body =
            json!({"errors": [{"code": "UNAUTHORIZED", "message": format!("{why}: {why}")}]});
        *r.body_mut() = Body::from(format!("{body}\n"));
        return r;
    };
    // Cosign enforcement on manifest pulls.
    if read
        && kind == "manifests"
        && proj
            .metadata
            .get("enable_content_trust_cosign")
            .is_some_and(|v| v == "true" || v == "1")
    {
        let reference = reference.clone().unwrap_or_default();
        let is_signature = reference.starts_with("sha256-") && reference.ends_with(".sig");
        let cosign_push = app.bearer_ok(&headers) == Some(true)
            && headers
                .get(header::USER_AGENT)
                .and_then(|u| u.to_str().ok())
                .is_some_and(|u| u.contains("cosign"));
        if !is_signature
            && !cosign_push
            && let Some((digest, _, _)) = app.manifest(&repo, &reference).await
            && !app.is_signature_artifact(&repo, &digest)
            && !app
                .accessories(&repo, &digest)
                .await
                .iter()
                .any(|a| a["type"] == "signature.cosign")
        {
            let msg = if app.minor() >= 9 {
                "The image is not signed by cosign."
            } else {
                "The image is not signed in Cosign."
            };
            return err(
                StatusCode::PRECONDITION_FAILED,
                "PROJECTPOLICYVIOLATION",
                msg,
            );
        }
    }
    if kind == "referrers" {
        return referrers_list(&app, &repo, reference.as_deref().unwrap_or(""), &query);
    }
    // A manifest PUT is read whole: Harbor's subject middleware looks inside.
    let is_manifest_put = method == Method::PUT && kind == "manifests";
    let (body, subject) = if is_manifest_put {
        let bytes = match axum::body::to_bytes(req.into_body(), 4 << 20).await {
            Ok(b) => b,
            Err(_) => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "MANIFEST_INVALID",
                    "manifest invalid",
                );
            }
        };
        let subject = referrer_descriptor(&bytes, &headers);
        (reqwest::Body::from(bytes), subject)
    } else {
        (
            reqwest::Body::wrap_stream(req.into_body().into_data_stream()),
            None,
        )
    };
    let url = format!("{}/v2/{}/{}{}", app.upstream, app.namespace, rest, query);
    let mut out = app.http.request(method, &url);
    for (k, v) in headers.iter() {
        if k != header::AUTHORIZATION && k != header::HOST && k != header::COOKIE {
            out = out.header(k, v);
        }
    }
    let resp = match out.body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            return err(
                StatusCode::BAD_GATEWAY,
                "UNKNOWN",
                &format!("registry: {e}"),
            );
        }
    };
    let mut builder = Response::builder().status(resp.status().as_u16());
    let ns_prefix = format!("/v2/{}/", app.namespace);
    for (k, v) in resp.headers() {
        if k == header::LOCATION {
            let loc = v
                .to_str()
                .unwrap_or("")
                .replace(&app.upstream, &app.public_url)
                .replacen(&ns_prefix, "/v2/", 1);
            builder = builder.header(k, loc);
        } else if k != header::TRANSFER_ENCODING && k != header::CONNECTION {
            builder = builder.header(k, v);
        }
    }
    if let Some((subject, descriptor)) = subject
        && resp.status().is_success()
        && app.minor() >= 8
    {
        let mut inner = app.inner.lock().unwrap();
        let list = inner
            .referrers
            .entry((repo.clone(), subject.clone()))
            .or_default();
        if !list.iter().any(|d| d["digest"] == descriptor["digest"]) {
            list.push(descriptor);
        }
        drop(inner);
        if app.minor() >= 9 {
            builder = builder.header("OCI-Subject", subject);
        }
    }
    builder
        .body(Body::from_stream(resp.bytes_stream()))
        .unwrap()
}

/// The subject digest and the referrers-index descriptor of a manifest pushed
/// with a `subject`.
fn referrer_descriptor(bytes: &[u8], headers: &HeaderMap) -> Option<(String, Value)> {
    let m: Value = serde_json::from_slice(bytes).ok()?;
    let subject = m["subject"]["digest"].as_str()?.to_string();
    use sha2::Digest;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
    let media_type = m["mediaType"].as_str().map(str::to_string).or_else(|| {
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    })?;
    let artifact_type = m["artifactType"]
        .as_str()
        .or(m["config"]["mediaType"].as_str())
        .unwrap_or("")
        .to_string();
    let mut d = json!({"mediaType": media_type, "digest": digest, "size": bytes.len(), "artifactType": artifact_type});
    if let Some(a) = m["annotations"].as_object() {
        d["annotations"] = Value::Object(a.clone());
    }
    Some((subject, d))
}

/// `GET /v2/<repo>/referrers/<digest>`: missing in v2.7; v2.8 and v2.9 answer
/// with `application/json` (which makes cosign fall back to the tag); from
/// v2.10 with the OCI index type. `?artifactType=` filters.
fn referrers_list(app: &App, repo: &str, digest: &str, query: &str) -> Response {
    if app.minor() < 8 {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "404 page not found\n",
        )
            .into_response();
    }
    let filter = query
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("artifactType="))
        .map(|v| v.replace("%2B", "+").replace("%2F", "/"));
    let manifests: Vec<Value> = app
        .referrers_of(repo, digest)
        .into_iter()
        .filter(|d| {
            filter
                .as_ref()
                .is_none_or(|f| d["artifactType"] == f.as_str())
        })
        .collect();
    let body = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    let content_type = if app.minor() >= 10 {
        OCI_INDEX
    } else {
        "application/json"
    };
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response();
    if filter.is_some() {
        r.headers_mut().insert(
            "OCI-Filters-Applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    r
}

/// `p/r/manifests/ref` -> (Some("p/r"), "manifests", Some("ref")).
fn split_v2(rest: &str) -> (Option<String>, String, Option<String>) {
    for kind in ["manifests", "blobs", "tags", "referrers"] {
        if let Some(i) = rest.find(&format!("/{kind}/")) {
            let repo = rest[..i].to_string();
            let reference = rest[i + kind.len() + 2..].to_string();
            return (Some(repo), kind.to_string(), Some(reference));
        }
    }
    (None, String::new(), None)
}

async fn add_headers(req: Request, next: axum::middleware::Next) -> Response {
    let mut r = next.run(req).await;
    r.headers_mut()
        .insert("X-Request-Id", HeaderValue::from_str(&rand_hex(8)).unwrap());
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sid=b1a2c3d4e5; Path=/; HttpOnly"),
    );
    r
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let listen = arg(&args, "--listen").unwrap_or_else(|| "127.0.0.1:8080".into());
    let upstream = arg(&args, "--upstream").unwrap_or_else(|| "http://127.0.0.1:5055".into());
    let password = match arg(&args, "--admin-password-file") {
        Some(f) => std::fs::read_to_string(f)?
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        None => "Harbor12345".into(),
    };
    let version = arg(&args, "--version").unwrap_or_else(|| "v2.7.1".into());
    let namespace =
        arg(&args, "--namespace").unwrap_or_else(|| format!("double{}", std::process::id()));
    let public_url = arg(&args, "--public-url").unwrap_or_else(|| format!("http://{listen}"));
    let app = App {
        inner: Arc::new(Mutex::new(Inner {
            projects: vec![Project {
                id: 1,
                name: "library".into(),
                metadata: BTreeMap::from([("public".to_string(), "true".to_string())]),
                creation_time: now(),
            }],
            tokens: HashSet::new(),
            next_id: 1,
            referrers: BTreeMap::new(),
        })),
        upstream: upstream.trim_end_matches('/').to_string(),
        namespace,
        public_url,
        password,
        version,
        unhealthy: args
            .windows(2)
            .filter(|w| w[0] == "--unhealthy")
            .map(|w| w[1].clone())
            .collect(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
    };
    let router = Router::new()
        .route("/api/v2.0/health", get(health))
        .route("/api/v2.0/ping", get(ping))
        .route("/api/v2.0/systeminfo", get(systeminfo))
        .route("/api/v2.0/users/current", get(current_user))
        .route(
            "/api/v2.0/projects",
            get(projects_list).post(project_create),
        )
        .route("/api/v2.0/projects", head(projects_list))
        .route("/api/v2.0/projects/{p}", get(project_get).put(project_put))
        .route("/api/v2.0/projects/{p}/metadatas/", get(metadatas_get))
        .route("/api/v2.0/projects/{p}/metadatas/{key}", put(metadata_put))
        .route(
            "/api/v2.0/projects/{p}/repositories/{r}/artifacts",
            get(artifacts_list),
        )
        .route(
            "/api/v2.0/projects/{p}/repositories/{r}/artifacts/{reference}",
            get(artifact_get),
        )
        .route("/service/token", get(token))
        .route("/v2/", any(registry))
        .route("/v2", any(registry))
        .route("/v2/{*rest}", any(registry))
        .layer(axum::middleware::from_fn(add_headers))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let (Some(cert), Some(key)) = (arg(&args, "--tls-cert"), arg(&args, "--tls-key")) else {
        eprintln!("harbor-double listening on {listen}");
        axum::serve(listener, router).await?;
        return Ok(());
    };
    let acceptor = tls::acceptor(&cert, &key)?;
    let https_port = listener.local_addr()?.port();
    if let Some(from) = arg(&args, "--redirect-from") {
        let plain = tokio::net::TcpListener::bind(&from).await?;
        eprintln!("harbor-double redirecting {from} to https port {https_port}");
        tokio::spawn(async move { axum::serve(plain, tls::redirect_router(https_port)).await });
    }
    eprintln!("harbor-double listening on {listen} (TLS)");
    axum::serve(tls::TlsListener::new(listener, acceptor)?, router).await?;
    Ok(())
}
