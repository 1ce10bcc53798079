//! The download step: a local installer, or the release's tarball checked
//! against its md5sum, cached by version (verified once, then trusted while
//! its size and mtime stay the same).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{InstallRun, Installer};
use crate::digest::fingerprint;
use crate::fsutil::write_atomic;
use crate::installer::download;
use crate::lab::options::{InstallOptions, InstallerSource};
use crate::lab::step::{Check, Outcome};

pub(super) fn plan(opts: &InstallOptions) -> String {
    match &opts.installer {
        InstallerSource::Local(p) => format!("use the local installer {}", p.display()),
        InstallerSource::Download { .. } => format!(
            "download Harbor {} (md5-checked, cached)",
            opts.version.tag()
        ),
    }
}

/// Where a release asset comes from and goes.
pub(super) struct Release {
    pub(super) url: String,
    pub(super) sums_url: String,
    pub(super) asset: String,
    dest: PathBuf,
    /// The md5 recorded when `dest` was verified.
    stored: PathBuf,
}

pub(super) fn release(run: &InstallRun<'_>, base: &str, offline: bool) -> Release {
    let v = &run.version;
    let asset = if offline {
        v.offline_asset()
    } else {
        v.online_asset()
    };
    let base = base.trim_end_matches('/');
    let dir = run.ctx.cache_dir().join("downloads").join(v.tag());
    Release {
        url: format!("{base}/{}/{asset}", v.tag()),
        sums_url: format!("{base}/{}/md5sum", v.tag()),
        dest: dir.join(&asset),
        stored: dir.join(format!("{asset}.md5")),
        asset,
    }
}

/// Size and mtime: a verified file that still has them is not re-hashed.
fn stamp(p: &Path) -> Option<String> {
    std::fs::metadata(p).ok().map(|m| {
        let mtime = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("{}:{mtime}", m.len())
    })
}

pub(super) async fn check(run: &mut InstallRun<'_>) -> anyhow::Result<Check> {
    let (base, offline) = match &run.opts.installer {
        InstallerSource::Local(p) => {
            let md5 = download::file_md5(p).with_context(|| format!("reading {}", p.display()))?;
            run.installer = Some(Installer {
                path: p.clone(),
                md5,
            });
            return Ok(Check::Done(format!(
                "using the local installer {}",
                p.display()
            )));
        }
        InstallerSource::Download { base, offline } => (base.clone(), *offline),
    };
    let r = release(run, &base, offline);
    // Verified before and unchanged since: no network, no re-hash.
    if let (Some(st), Ok(md5)) = (stamp(&r.dest), std::fs::read_to_string(&r.stored)) {
        let md5 = md5.trim().to_string();
        if run
            .state
            .is_done("download", &fingerprint(&[&r.url, &md5, &st]))
        {
            run.installer = Some(Installer {
                path: r.dest.clone(),
                md5: md5.clone(),
            });
            return Ok(Check::Done(format!(
                "{} is cached and verified (md5 {md5})",
                r.dest.display()
            )));
        }
    }
    let expected = expected_md5(run, &r).await?;
    let cached = r.dest.is_file() && download::file_md5(&r.dest).ok().as_ref() == Some(&expected);
    run.installer = Some(Installer {
        path: r.dest.clone(),
        md5: expected,
    });
    if cached && run.opts.dry_run {
        return Ok(Check::Done(format!("{} is cached", r.dest.display())));
    }
    Ok(Check::needed(format!("download {}", r.url)))
}

/// The release's md5 for the asset; offline, the one recorded when the cached
/// file was verified.
async fn expected_md5(run: &InstallRun<'_>, r: &Release) -> anyhow::Result<String> {
    match download::fetch_text(&run.client, &r.sums_url).await {
        Ok(text) => Ok(download::md5_for(&text, &r.asset).ok_or_else(|| {
            download::DownloadError::NoChecksum {
                url: r.sums_url.clone(),
                asset: r.asset.clone(),
            }
        })?),
        Err(e) => match std::fs::read_to_string(&r.stored) {
            Ok(s) if r.dest.is_file() => {
                run.ui.warn(&format!(
                    "{e}; using the cached, previously verified {}",
                    r.dest.display()
                ));
                Ok(s.trim().to_string())
            }
            _ => Err(e.into()),
        },
    }
}

pub(super) async fn apply(run: &mut InstallRun<'_>) -> anyhow::Result<Outcome> {
    let InstallerSource::Download { base, offline } = run.opts.installer.clone() else {
        return Ok(Outcome::skipped("a local installer needs no download"));
    };
    let r = release(run, &base, offline);
    let expected = run.installer()?.md5.clone();
    let spec = download::Spec {
        url: r.url.clone(),
        dest: r.dest.clone(),
        md5: Some(expected),
        max_bytes: run.opts.version.max_installer_bytes(offline),
    };
    let got = download::download(&run.client, run.ui, &spec, 4).await?;
    write_atomic(&r.stored, format!("{}\n", got.md5).as_bytes(), 0o644)
        .with_context(|| format!("writing {}", r.stored.display()))?;
    if let Some(st) = stamp(&r.dest) {
        let now = run.now();
        run.state.record(
            "download",
            &fingerprint(&[&r.url, &got.md5, &st]),
            &r.dest.display().to_string(),
            now,
        );
    }
    run.installer = Some(Installer {
        path: r.dest.clone(),
        md5: got.md5.clone(),
    });
    if got.cached {
        return Ok(Outcome::skipped(format!(
            "{} is cached (md5 {})",
            r.dest.display(),
            got.md5
        )));
    }
    let resumed = if got.resumed_from > 0 {
        format!(", resumed at byte {}", got.resumed_from)
    } else {
        String::new()
    };
    Ok(Outcome::done(format!(
        "{} ({} bytes, md5 ok{resumed})",
        r.url, got.bytes
    )))
}

/// The text of some small files of an installer tarball that is not extracted
/// yet (for `--dry-run`), in the order of `names`; one pass, stopping once all
/// are found. A file that is missing, too big or not text is `None`.
pub fn files_from_tarball(path: &Path, names: &[&str]) -> Vec<Option<String>> {
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
