//! harbor.yml and Harbor's admin password.

use std::path::Path;

use anyhow::Context as _;

use super::InstallReport;
use crate::cli::InstallArgs;
use crate::context::Context;
use crate::error::UserError;
use crate::fsutil::{backup_once, write_atomic};
use crate::journal::State;
use crate::lab::secrets::{self, Secret};
use crate::ui::{Reporter, prompt};

/// The admin password: from --admin-password-file, else the one kept in the
/// workdir, else a new random one (kept 0600). Never printed.
pub(super) fn admin_password(
    ctx: &Context,
    args: &InstallArgs,
    kept: &Path,
    dry_run: bool,
) -> anyhow::Result<Secret> {
    if let Some(f) = &args.admin_password_file {
        let p = secrets::read_file(ctx, f, "--admin-password-file")?;
        if p.expose().is_empty() {
            return Err(UserError::usage(format!(
                "--admin-password-file {}: the password is empty",
                f.display()
            ))
            .into());
        }
        if !dry_run {
            secrets::keep(kept, &p)?;
        }
        return Ok(p);
    }
    if let Some(p) = secrets::read_kept(kept) {
        return Ok(p);
    }
    let p = secrets::random_password();
    if !dry_run {
        secrets::keep(kept, &p)?;
    }
    Ok(p)
}

/// A unified diff of two config texts (harbor.yml, daemon.json), for the
/// terminal: password values are hidden (a changed one still shows as a -/+ pair).
pub(super) fn diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let d = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(old_name, new_name)
        .to_string();
    crate::installer::render::hide_passwords(&d)
}

pub(super) fn write_harbor_yml(
    ui: &Reporter,
    report: &mut InstallReport,
    state: &mut State,
    path: &Path,
    rendered: &str,
    dry_run: bool,
) -> anyhow::Result<()> {
    let ours = crate::digest::sha256_digest(rendered.as_bytes());
    let existing = std::fs::read_to_string(path).ok();
    let last_written = state.harbor.as_ref().map(|h| h.harbor_yml_sha256.clone());
    match &existing {
        Some(e) if e == rendered => {
            report.step(
                ui,
                "harbor-yml",
                "skipped",
                format!("{} is up to date", path.display()),
            );
            return Ok(());
        }
        Some(e) => {
            let edited =
                last_written.as_deref() != Some(&crate::digest::sha256_digest(e.as_bytes()));
            let d = diff(
                e,
                rendered,
                &path.display().to_string(),
                "harbor-lab's rendering",
            );
            if dry_run {
                ui.line(&d);
                report.step(
                    ui,
                    "harbor-yml",
                    "planned",
                    format!("update {}", path.display()),
                );
                return Ok(());
            }
            if edited {
                ui.line(&format!(
                    "{} was edited since harbor-lab wrote it:\n{d}",
                    path.display()
                ));
                let replace = prompt::confirm(
                    ui,
                    &format!("Replace your edited {}? (a backup is kept)", path.display()),
                    "pass --yes to replace it (a backup is kept), or put your change in the lab template",
                )?;
                if !replace {
                    report.step(
                        ui,
                        "harbor-yml",
                        "skipped",
                        format!("kept your edited {}", path.display()),
                    );
                    return Ok(());
                }
            }
            let backup =
                backup_once(path).with_context(|| format!("backing up {}", path.display()))?;
            ui.line(&format!(
                "Backup of the previous harbor.yml: {}",
                backup.display()
            ));
        }
        None if dry_run => {
            ui.line(&format!(
                "--- {} (would be written; passwords hidden) ---\n{}",
                path.display(),
                crate::installer::render::hide_passwords(rendered)
            ));
            report.step(
                ui,
                "harbor-yml",
                "planned",
                format!("write {}", path.display()),
            );
            return Ok(());
        }
        None => {}
    }
    write_atomic(path, rendered.as_bytes(), 0o600)
        .with_context(|| format!("writing {}", path.display()))?;
    let h = state.harbor.get_or_insert_with(Default::default);
    h.harbor_yml_sha256 = ours;
    report.step(
        ui,
        "harbor-yml",
        "done",
        format!("wrote {}", path.display()),
    );
    Ok(())
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
