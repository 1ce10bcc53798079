//! The download step: the release's md5sum, the cache, or a local installer.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{InstallReport, now};
use crate::cli::InstallArgs;
use crate::context::Context;
use crate::digest::fingerprint;
use crate::error::UserError;
use crate::fsutil::write_atomic;
use crate::installer::download;
use crate::installer::versions::Version;
use crate::journal::State;
use crate::ui::Reporter;

/// The installer tarball on disk and its md5.
pub(super) async fn obtain_installer(
    ctx: &Context,
    ui: &Reporter,
    args: &InstallArgs,
    version: &Version,
    client: &reqwest::Client,
    report: &mut InstallReport,
    state: &mut State,
) -> anyhow::Result<(PathBuf, String)> {
    if let Some(p) = &args.installer_file {
        let p = ctx.resolve(p);
        if !p.is_file() {
            return Err(UserError::usage(format!(
                "--installer-file {}: no such file",
                p.display()
            ))
            .into());
        }
        let md5 = download::file_md5(&p).with_context(|| format!("reading {}", p.display()))?;
        report.step(
            ui,
            "download",
            "skipped",
            format!("using the local installer {}", p.display()),
        );
        return Ok((p, md5));
    }
    let asset = if args.offline {
        version.offline_asset()
    } else {
        version.online_asset()
    };
    let base = args.download_base.trim_end_matches('/');
    let url = format!("{base}/{}/{asset}", version.tag());
    let sums_url = format!("{base}/{}/md5sum", version.tag());
    let dir = ctx.cache_dir().join("downloads").join(version.tag());
    let dest = dir.join(&asset);
    let stored = dir.join(format!("{asset}.md5"));
    // Verified before and unchanged since (same size and mtime): no network, no re-hash.
    let stamp = |p: &Path| {
        std::fs::metadata(p).ok().map(|m| {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{mtime}", m.len())
        })
    };
    if let (Some(st), Ok(md5)) = (stamp(&dest), std::fs::read_to_string(&stored)) {
        let md5 = md5.trim().to_string();
        if state.is_done("download", &fingerprint(&[&url, &md5, &st])) {
            report.step(
                ui,
                "download",
                "skipped",
                format!("{} is cached and verified (md5 {md5})", dest.display()),
            );
            return Ok((dest, md5));
        }
    }
    let expected = match download::fetch_text(client, &sums_url).await {
        Ok(text) => Some(download::md5_for(&text, &asset).ok_or_else(|| {
            download::DownloadError::NoChecksum {
                url: sums_url.clone(),
                asset: asset.clone(),
            }
        })?),
        // Offline re-run: trust the checksum recorded when the file was verified.
        Err(e) => match std::fs::read_to_string(&stored) {
            Ok(s) if dest.is_file() => {
                ui.warn(&format!(
                    "{e}; using the cached, previously verified {}",
                    dest.display()
                ));
                Some(s.trim().to_string())
            }
            _ => return Err(e.into()),
        },
    };
    if args.dry_run {
        let cached = dest.is_file() && download::file_md5(&dest).ok() == expected;
        let status = if cached { "skipped" } else { "planned" };
        let detail = if cached {
            format!("{} is cached", dest.display())
        } else {
            format!("download {url}")
        };
        report.step(ui, "download", status, detail);
        return Ok((dest, expected.unwrap_or_default()));
    }
    let spec = download::Spec {
        url: url.clone(),
        dest: dest.clone(),
        md5: expected,
        max_bytes: version.max_installer_bytes(args.offline),
    };
    let got = download::download(client, ui, &spec, 4).await?;
    write_atomic(&stored, format!("{}\n", got.md5).as_bytes(), 0o644)
        .with_context(|| format!("writing {}", stored.display()))?;
    if let Some(st) = stamp(&dest) {
        state.record(
            "download",
            &fingerprint(&[&url, &got.md5, &st]),
            &dest.display().to_string(),
            now(ctx),
        );
    }
    if got.cached {
        report.step(
            ui,
            "download",
            "skipped",
            format!("{} is cached (md5 {})", dest.display(), got.md5),
        );
    } else {
        let resumed = if got.resumed_from > 0 {
            format!(", resumed at byte {}", got.resumed_from)
        } else {
            String::new()
        };
        report.step(
            ui,
            "download",
            "done",
            format!("{url} ({} bytes, md5 ok{resumed})", got.bytes),
        );
    }
    Ok((dest, got.md5))
}

/// The text of some small files of an installer tarball that is not extracted
/// yet (for `--dry-run`), in the order of `names`; one pass, stopping once all
/// are found. A file that is missing, too big or not text is `None`.
pub(super) fn files_from_tarball(path: &Path, names: &[&str]) -> Vec<Option<String>> {
    use std::io::Read;
    let mut found: Vec<Option<String>> = vec![None; names.len()];
    let Ok(f) = std::fs::File::open(path) else {
        return found;
    };
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let Ok(entries) = ar.entries() else {
        return found;
    };
    for e in entries {
        let Ok(mut e) = e else { break };
        let Some(i) = e
            .path()
            .ok()
            .and_then(|p| names.iter().position(|n| p.as_os_str() == *n))
        else {
            continue;
        };
        let mut s = String::new();
        if e.by_ref().take(1 << 20).read_to_string(&mut s).is_ok() {
            found[i] = Some(s);
        }
        if found.iter().all(Option::is_some) {
            break;
        }
    }
    found
}
