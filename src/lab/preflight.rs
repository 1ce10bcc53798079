//! The preflight checks, as `preflight` and as install's first step show them.

use serde::Serialize;

use super::options::PreflightOptions;
use crate::context::Context;
use crate::harbor::health;
use crate::installer::preflight::{self, Check};
use crate::ui::Reporter;

#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    pub hostname: String,
    pub ok: bool,
    pub checks: Vec<Check>,
}

/// Is a healthy Harbor already on the port?
pub async fn harbor_is_up(client: &reqwest::Client, url: &str) -> bool {
    health::check(client, url)
        .await
        .is_ok_and(|h| h.is_healthy())
}

/// Whose Harbor is on the port: this workdir's (a re-run: its journal or the
/// register of labs says so), another lab's, or none.
pub async fn port_owner(
    ctx: &Context,
    client: &reqwest::Client,
    opts: &PreflightOptions,
) -> crate::labs::PortOwner {
    let up = harbor_is_up(client, &opts.host.url).await || recorded_harbor_is_up(opts).await;
    let ours = opts
        .workdir
        .load()
        .ok()
        .and_then(|s| s.harbor)
        .is_some_and(|h| h.http_port == opts.host.port && h.hostname == opts.host.host);
    crate::labs::owner(ctx, opts.host.port, up, opts.workdir.root(), ours)
}

/// Is Harbor up at the URL this workdir recorded, when that differs from
/// `url` (switching between HTTP and --tls: its ports are still its own)?
async fn recorded_harbor_is_up(opts: &PreflightOptions) -> bool {
    let Ok(state) = opts.workdir.load() else {
        return false;
    };
    let Some(old) = state
        .harbor
        .filter(|h| !h.url.is_empty() && h.url != opts.host.url)
    else {
        return false;
    };
    let ca = state
        .tls
        .and_then(|t| t.ca_certificate)
        .and_then(|p| std::fs::read(p).ok());
    let client = crate::http::client_trusting(crate::http::Profile::Transfer, ca.as_deref());
    match client {
        Ok(c) => harbor_is_up(&c, &old.url).await,
        Err(_) => false,
    }
}

/// Run every check, printing failures and warnings (and passes when
/// `show_ok`) in order.
pub async fn run(
    ctx: &Context,
    ui: &Reporter,
    client: &reqwest::Client,
    opts: &PreflightOptions,
    show_ok: bool,
) -> PreflightReport {
    let checks = preflight::run(
        ctx,
        &preflight::Inputs {
            http_port: opts.host.port,
            https_port: opts.host.https_port,
            port_owner: port_owner(ctx, client, opts).await,
            data_volume: &opts.data_volume,
            daemon_config: &opts.daemon_config,
            min_docker: crate::installer::versions::MIN_DOCKER,
        },
    )
    .await;
    let mut ok = true;
    for c in &checks {
        match c.result.as_str() {
            "fail" => {
                ok = false;
                ui.error(&format!(
                    "preflight {}: {}; fix: {}",
                    c.name, c.detail, c.fix
                ));
            }
            "warn" => ui.warn(&format!("preflight {}: {} ({})", c.name, c.detail, c.fix)),
            _ if show_ok => ui.status("Ok", &format!("{}: {}", c.name, c.detail)),
            _ => {}
        }
    }
    PreflightReport {
        hostname: opts.host.host.clone(),
        ok,
        checks,
    }
}

/// The error of a failed preflight (exit 3).
pub fn failed() -> crate::error::UserError {
    crate::error::UserError::environment("preflight failed; fix the problems above and run again")
}
