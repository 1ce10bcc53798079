//! Wait until `/api/v2.0/health` says `"status":"healthy"`.

use std::time::Duration;

use serde::Deserialize;

use crate::ui::Reporter;

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct Health {
    pub status: String,
    #[serde(default)]
    pub components: Vec<Component>,
}

impl Health {
    /// Harbor says it is healthy. The one test for "Harbor is up": preflight
    /// (is the port Harbor's own?), install (skip install.sh?) and the wait.
    pub fn is_healthy(&self) -> bool {
        self.status == "healthy"
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct Component {
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("Harbor at {url} is not healthy after {waited}s: {detail}")]
pub struct HealthTimeout {
    pub url: String,
    pub waited: u64,
    pub detail: String,
}

/// One look at the health endpoint. `Err` says why it is not healthy.
pub async fn check(client: &reqwest::Client, base: &str) -> Result<Health, String> {
    let url = format!("{base}/api/v2.0/health");
    let resp = client
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| format!("no answer: {}", crate::http::root_cause(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    let body = crate::http::read_limited(resp, 1 << 20)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_slice::<Health>(&body).map_err(|e| format!("not a health document: {e}"))
}

fn describe(h: &Health) -> String {
    let bad: Vec<String> = h
        .components
        .iter()
        .filter(|c| c.status != "healthy")
        .map(|c| match &c.error {
            Some(e) => format!("{} ({}: {e})", c.name, c.status),
            None => format!("{} ({})", c.name, c.status),
        })
        .collect();
    if bad.is_empty() {
        format!("status {:?}", h.status)
    } else {
        format!("unhealthy components: {}", bad.join(", "))
    }
}

/// Poll until healthy or `timeout` passes.
pub async fn wait_healthy(
    client: &reqwest::Client,
    ui: &Reporter,
    base: &str,
    timeout: Duration,
) -> Result<Health, HealthTimeout> {
    let started = tokio::time::Instant::now();
    let spinner = ui.spinner(&format!("waiting for {base}/api/v2.0/health"));
    let mut delay = Duration::from_millis(200);
    loop {
        let last = match check(client, base).await {
            Ok(h) if h.is_healthy() => {
                spinner.finish_and_clear();
                return Ok(h);
            }
            Ok(h) => describe(&h),
            Err(e) => e,
        };
        spinner.set_message(format!("waiting for Harbor: {last}"));
        if started.elapsed() >= timeout {
            spinner.finish_and_clear();
            return Err(HealthTimeout {
                url: base.to_string(),
                waited: timeout.as_secs(),
                detail: last,
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(3));
    }
}
