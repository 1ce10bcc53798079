//! Harbor's REST API (v2.0): the login check, projects and their metadata,
//! artifacts with accessories. Basic auth, and no cookie jar: a kept `sid`
//! cookie turns Harbor's basic-auth writes into CSRF 403s.

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::{Profile, parse_error_body, read_limited, root_cause};

const BODY_LIMIT: usize = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HarborError {
    #[error(
        "cannot reach Harbor at {url}: {detail}; check that Harbor is running (harbor-lab status) and the URL"
    )]
    Connect { url: String, detail: String },
    #[error("Harbor {method} {url}: HTTP {status}{}", match (code, message) {
        (Some(c), Some(m)) => format!(" {c}: {m}"),
        (None, Some(m)) => format!(": {m}"),
        _ => String::new(),
    })]
    Api {
        method: String,
        url: String,
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    #[error("Harbor {url}: unexpected answer: {detail}")]
    BadResponse { url: String, detail: String },
    #[error(
        "Harbor at {url} refused the login of {user:?} (HTTP 401); check the user (--harbor-user) and the password (--harbor-password-file, or the workdir's admin-password)"
    )]
    Login { url: String, user: String },
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Project {
    pub project_id: u64,
    pub name: String,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl Project {
    /// Harbor treats only "true" and "1" as true; a missing key is false.
    pub fn cosign_enforced(&self) -> bool {
        matches!(
            self.metadata
                .get("enable_content_trust_cosign")
                .map(String::as_str),
            Some("true") | Some("1")
        )
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Accessory {
    pub digest: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub size: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Tag {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Artifact {
    pub digest: String,
    /// The manifest's media type (Harbor's `size` is not the manifest's length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_media_type: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<Tag>>,
    #[serde(default)]
    pub accessories: Option<Vec<Accessory>>,
}

pub const COSIGN_SIGNATURE: &str = "signature.cosign";

impl Artifact {
    /// "Signed by cosign": an accessory of type `signature.cosign`.
    pub fn cosign_signed(&self) -> bool {
        self.accessories
            .iter()
            .flatten()
            .any(|a| a.kind == COSIGN_SIGNATURE)
    }
}

/// Did creating the project make it, or was it already there?
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New,
    Exists,
}

pub struct Harbor {
    http: reqwest::Client,
    pub base: String,
    user: String,
    password: String,
}

/// A repository name in an API path: `a/b` must be double-encoded (`a%252Fb`).
pub fn encode_repo(repo: &str) -> String {
    repo.replace('/', "%252F")
}

impl Harbor {
    pub fn new(base: &str, user: &str, password: &str) -> Result<Harbor, HarborError> {
        Harbor::trusting(base, user, password, None)
    }

    /// [`Harbor::new`], also trusting `ca_pem` (the lab CA of a `--tls` Harbor).
    pub fn trusting(
        base: &str,
        user: &str,
        password: &str,
        ca_pem: Option<&[u8]>,
    ) -> Result<Harbor, HarborError> {
        let http = crate::http::client_trusting(Profile::Api, ca_pem).map_err(|e| {
            HarborError::Connect {
                url: base.to_string(),
                detail: e.to_string(),
            }
        })?;
        Ok(Harbor {
            http,
            base: base.trim_end_matches('/').to_string(),
            user: user.to_string(),
            password: password.to_string(),
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), HarborError> {
        let url = format!("{}/api/v2.0{path}", self.base);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .basic_auth(&self.user, Some(&self.password));
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| HarborError::Connect {
            url: url.clone(),
            detail: root_cause(&e),
        })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = read_limited(resp, BODY_LIMIT)
            .await
            .map_err(|e| HarborError::BadResponse {
                url: url.clone(),
                detail: e.to_string(),
            })?;
        Ok((status, headers, body))
    }

    fn api_error(method: &str, url: &str, status: StatusCode, body: &[u8]) -> HarborError {
        let (code, message) = parse_error_body(body);
        HarborError::Api {
            method: method.to_string(),
            url: url.to_string(),
            status: status.as_u16(),
            code,
            message,
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<T>, HarborError> {
        let (status, _, body) = self.call(Method::GET, path, None).await?;
        let url = format!("{}/api/v2.0{path}", self.base);
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Self::api_error("GET", &url, status, &body));
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| HarborError::BadResponse {
                url,
                detail: e.to_string(),
            })
    }

    /// The version Harbor reports (`v2.15.1-<commit>`), when it says (from
    /// v2.13 only to a logged-in user, as this client is).
    pub async fn harbor_version(&self) -> Result<Option<String>, HarborError> {
        #[derive(serde::Deserialize)]
        struct SystemInfo {
            harbor_version: Option<String>,
        }
        let info: Option<SystemInfo> = self.get_json("/systeminfo").await?;
        Ok(info.and_then(|i| i.harbor_version))
    }

    /// Check the credentials (lists answer anonymous callers too, so they can't).
    pub async fn check_login(&self) -> Result<(), HarborError> {
        let (status, _, body) = self.call(Method::GET, "/users/current", None).await?;
        if status.is_success() {
            Ok(())
        } else if status == StatusCode::UNAUTHORIZED {
            Err(HarborError::Login {
                url: self.base.clone(),
                user: self.user.clone(),
            })
        } else {
            Err(Self::api_error(
                "GET",
                &format!("{}/api/v2.0/users/current", self.base),
                status,
                &body,
            ))
        }
    }

    pub async fn project(&self, name: &str) -> Result<Option<Project>, HarborError> {
        self.get_json(&format!("/projects/{name}")).await
    }

    pub async fn create_project(&self, name: &str, public: bool) -> Result<Created, HarborError> {
        let body = serde_json::json!({
            "project_name": name,
            "metadata": {"public": if public { "true" } else { "false" }},
        });
        let (status, _, resp) = self.call(Method::POST, "/projects", Some(&body)).await?;
        match status {
            StatusCode::CREATED => Ok(Created::New),
            StatusCode::CONFLICT => Ok(Created::Exists),
            s => Err(Self::api_error(
                "POST",
                &format!("{}/api/v2.0/projects", self.base),
                s,
                &resp,
            )),
        }
    }

    /// Turn the project's "enforce cosign signatures" policy on or off.
    pub async fn set_cosign_enforcement(&self, project: &str, on: bool) -> Result<(), HarborError> {
        let body = serde_json::json!({"metadata": {"enable_content_trust_cosign": if on { "true" } else { "false" }}});
        let path = format!("/projects/{project}");
        let (status, _, resp) = self.call(Method::PUT, &path, Some(&body)).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Self::api_error(
                "PUT",
                &format!("{}/api/v2.0{path}", self.base),
                status,
                &resp,
            ))
        }
    }

    pub async fn artifact(
        &self,
        project: &str,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Artifact>, HarborError> {
        self.get_json(&format!(
            "/projects/{project}/repositories/{}/artifacts/{reference}?with_accessory=true&with_tag=true",
            encode_repo(repo)
        ))
        .await
    }

    pub async fn artifacts(&self, project: &str, repo: &str) -> Result<Vec<Artifact>, HarborError> {
        Ok(self
            .get_json(&format!(
                "/projects/{project}/repositories/{}/artifacts?with_accessory=true&with_tag=true&page_size=100",
                encode_repo(repo)
            ))
            .await?
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_from_the_spec() {
        let a: Artifact = serde_json::from_str(r#"{"id":3,"digest":"sha256:a","tags":[{"id":1,"name":"v1"}],
            "accessories":[{"id":1,"artifact_id":4,"size":558,"digest":"sha256:b","type":"signature.cosign"}]}"#).unwrap();
        assert!(a.cosign_signed());
        let b: Artifact =
            serde_json::from_str(r#"{"digest":"sha256:a","accessories":null}"#).unwrap();
        assert!(!b.cosign_signed());
        let p: Project =
            serde_json::from_str(r#"{"project_id":2,"name":"demo","metadata":{"public":"false"}}"#)
                .unwrap();
        assert!(!p.cosign_enforced());
        assert_eq!(encode_repo("a/b"), "a%252Fb");
    }
}
