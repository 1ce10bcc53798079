//! The harbor-yml step: render the installer's harbor.yml template with the
//! lab overlay for this version, validate it, and write it; a file the user
//! edited is never replaced without a diff and a question (or --yes).
//! The admin password is chosen here (and kept 0600 in the workdir).

use std::path::Path;

use anyhow::Context as _;

use super::InstallRun;
use crate::context::Context;
use crate::digest::sha256_digest;
use crate::error::UserError;
use crate::fsutil::{backup_once, write_atomic};
use crate::installer::render;
use crate::installer::versions::{self, Version};
use crate::lab::options::{InstallOptions, InstallerSource};
use crate::lab::secrets::{self, Secret};
use crate::lab::step::{Check, Outcome};
use crate::ui::prompt;

/// What the check found, for `apply`.
pub(super) struct Pending {
    rendered: String,
    /// The file's text and whether the user edited it since we wrote it, with
    /// the diff to show.
    existing: Option<(bool, String)>,
}

pub(super) fn plan(opts: &InstallOptions) -> String {
    format!(
        "write {} for {} with {}",
        opts.workdir.harbor_yml().display(),
        opts.host.url,
        match &opts.admin_password_file {
            Some(f) => format!("the admin password in {}", f.display()),
            None => "a random admin password (kept 0600)".to_string(),
        }
    )
}

pub(super) async fn check(run: &mut InstallRun<'_>) -> anyhow::Result<Check> {
    let (shipped, prepare) = installer_files(run);
    run.version = installed_version(run.opts, run.version, prepare.as_deref())?;
    run.report.harbor_version = run.version.tag();
    let kept = run.opts.workdir.admin_password_file();
    let password = admin_password(run.ctx, run.opts, &kept)?;
    run.report.admin_password = Some(password.clone());
    let path = run.opts.workdir.harbor_yml();
    let Some(shipped) = shipped else {
        if run.opts.dry_run {
            return Ok(Check::needed(
                "render harbor.yml once the installer is downloaded",
            ));
        }
        return Err(UserError::usage(format!(
            "{}: missing or unreadable; the installer does not ship harbor.yml.tmpl",
            run.opts
                .workdir
                .harbor_dir()
                .join("harbor.yml.tmpl")
                .display()
        ))
        .into());
    };
    let rendered = render_for(run.opts, &run.version, &shipped, &password)?;
    let existing = std::fs::read_to_string(&path).ok();
    let last_written = run
        .state
        .harbor
        .as_ref()
        .map(|h| h.harbor_yml_sha256.clone());
    let (check, existing) = match existing {
        Some(e) if e == rendered => {
            return Ok(Check::Done(format!("{} is up to date", path.display())));
        }
        Some(e) => {
            let edited = last_written.as_deref() != Some(&sha256_digest(e.as_bytes()));
            let d = diff(
                &e,
                &rendered,
                &path.display().to_string(),
                "harbor-lab's rendering",
            );
            let check = Check::Needed {
                plan: format!("update {}", path.display()),
                preview: Some(d.clone()),
            };
            (check, Some((edited, d)))
        }
        None => {
            let check = Check::Needed {
                plan: format!("write {}", path.display()),
                preview: Some(format!(
                    "--- {} (would be written; passwords hidden) ---\n{}",
                    path.display(),
                    render::hide_passwords(&rendered)
                )),
            };
            (check, None)
        }
    };
    run.harbor_yml = Some(Pending { rendered, existing });
    Ok(check)
}

pub(super) async fn apply(run: &mut InstallRun<'_>) -> anyhow::Result<Outcome> {
    let pending = run
        .harbor_yml
        .take()
        .context("the harbor-yml check found nothing to write")?;
    let path = run.opts.workdir.harbor_yml();
    if let Some((edited, d)) = &pending.existing {
        if *edited && !replace_edited(run, &path, d)? {
            // The file in place (the user's kept version) must pass too.
            let kept = std::fs::read_to_string(&path).unwrap_or_default();
            render::validate(&kept, &run.version, run.opts.host.allow_loopback)
                .with_context(|| format!("checking {}", path.display()))?;
            return Ok(Outcome::skipped(format!(
                "kept your edited {}",
                path.display()
            )));
        }
        let backup =
            backup_once(&path).with_context(|| format!("backing up {}", path.display()))?;
        run.ui.line(&format!(
            "Backup of the previous harbor.yml: {}",
            backup.display()
        ));
    }
    write_atomic(&path, pending.rendered.as_bytes(), 0o600)
        .with_context(|| format!("writing {}", path.display()))?;
    let h = run.state.harbor.get_or_insert_with(Default::default);
    h.harbor_yml_sha256 = sha256_digest(pending.rendered.as_bytes());
    Ok(Outcome::done(format!("wrote {}", path.display())))
}

/// Ask before replacing a harbor.yml the user edited.
fn replace_edited(run: &InstallRun<'_>, path: &Path, diff: &str) -> anyhow::Result<bool> {
    run.ui.line(&format!(
        "{} was edited since harbor-lab wrote it:\n{diff}",
        path.display()
    ));
    Ok(prompt::confirm(
        run.ui,
        &format!("Replace your edited {}? (a backup is kept)", path.display()),
        "pass --yes to replace it (a backup is kept), or put your change in the lab template",
    )?)
}

/// The installer's harbor.yml template and prepare script: from the extracted
/// files, or (a dry run that has not extracted this tarball) from the tarball.
fn installer_files(run: &InstallRun<'_>) -> (Option<String>, Option<String>) {
    if run.opts.dry_run && !run.extracted {
        let Some(installer) = &run.installer else {
            return (None, None);
        };
        let mut f = super::files_from_tarball(
            &installer.path,
            &["harbor/harbor.yml.tmpl", "harbor/prepare"],
        );
        return (f[0].take(), f[1].take());
    }
    let dir = run.opts.workdir.harbor_dir();
    let [a, b] = ["harbor.yml.tmpl", "prepare"].map(|n| std::fs::read_to_string(dir.join(n)).ok());
    (a, b)
}

/// A local installer says which Harbor it is (its prepare script's image tag,
/// else its file name); the rules for harbor.yml and install.sh follow it.
fn installed_version(
    opts: &InstallOptions,
    planned: Version,
    prepare: Option<&str>,
) -> anyhow::Result<Version> {
    let InstallerSource::Local(file) = &opts.installer else {
        return Ok(planned);
    };
    let found = prepare.and_then(versions::from_prepare_script).or_else(|| {
        file.file_name()
            .and_then(|n| n.to_str())
            .and_then(versions::from_installer_name)
    });
    match found {
        Some(found) if found != planned && opts.version_explicit => Err(UserError::usage(format!(
            "--installer-file {} holds Harbor {found}, but --harbor-version says {planned}; \
             pass --harbor-version {found} or leave it out",
            file.display()
        ))
        .into()),
        Some(found) => Ok(found),
        None => Ok(planned),
    }
}

fn render_for(
    opts: &InstallOptions,
    version: &Version,
    shipped: &str,
    password: &Secret,
) -> anyhow::Result<String> {
    let settings = render::Settings {
        hostname: opts.host.host.clone(),
        http_port: opts.host.port,
        admin_password: password.expose().to_string(),
        data_volume: opts.data_volume.display().to_string(),
        https: opts.tls.as_ref().map(|t| t.https(&opts.workdir)),
    };
    let rendered = render::render(shipped, &opts.overlay.text, &opts.overlay.name, &settings)?;
    render::validate(&rendered, version, opts.host.allow_loopback)?;
    Ok(rendered)
}

/// The admin password: from --admin-password-file, else the one kept in the
/// workdir, else a new random one; kept 0600 in the workdir (not on a dry
/// run). Never printed.
fn admin_password(ctx: &Context, opts: &InstallOptions, kept: &Path) -> anyhow::Result<Secret> {
    let (password, keep) = match &opts.admin_password_file {
        Some(f) => {
            let p = secrets::read_file(ctx, f, "--admin-password-file")?;
            if p.expose().is_empty() {
                return Err(UserError::usage(format!(
                    "--admin-password-file {}: the password is empty",
                    f.display()
                ))
                .into());
            }
            (p, true)
        }
        None => match secrets::read_kept(kept) {
            Some(p) => (p, false),
            None => (secrets::random_password(), true),
        },
    };
    if keep && !opts.dry_run {
        secrets::keep(kept, &password)?;
    }
    Ok(password)
}

/// A unified diff of two config texts (harbor.yml, daemon.json), for the
/// terminal: password values are hidden (a changed one still shows as a -/+ pair).
pub(super) fn diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let d = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(old_name, new_name)
        .to_string();
    render::hide_passwords(&d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::installer::render::hide_passwords;

    #[test]
    fn shown_yaml_and_diffs_hide_passwords() {
        let yml = "hostname: h\nharbor_admin_password: S3cret\ndatabase:\n  password: root123\n\
                   # harbor_admin_password: commented\nlog:\n  level: info";
        let shown = hide_passwords(yml);
        assert!(
            !shown.contains("S3cret") && !shown.contains("root123"),
            "{shown}"
        );
        assert!(
            shown.contains("harbor_admin_password: ********\n"),
            "{shown}"
        );
        assert!(shown.contains("  password: ********\n"), "{shown}");
        assert!(
            shown.contains("# harbor_admin_password: commented\n"),
            "{shown}"
        );
        assert!(shown.ends_with("  level: info"), "{shown}");
        // A changed password still shows as changed, without either value.
        let d = diff(yml, &yml.replace("S3cret", "Other9"), "a", "b");
        assert!(!d.contains("S3cret") && !d.contains("Other9"), "{d}");
        assert!(d.contains("-harbor_admin_password: ********"), "{d}");
        assert!(d.contains("+harbor_admin_password: ********"), "{d}");
        // Odd input never panics.
        for t in [
            "",
            ":",
            "password:",
            "+-+ password: x",
            "é password: ü\n",
            "\n\n",
        ] {
            let _ = hide_passwords(t);
        }
    }
}
