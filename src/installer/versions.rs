//! Everything that differs between Harbor versions, in one table.

use std::fmt;

/// The newest Harbor release harbor-lab knows (the default).
pub const DEFAULT_VERSION: &str = "v2.15.1";

/// Versions we know the shape of, oldest first.
pub const KNOWN_VERSIONS: &[&str] = &[
    "v2.7.1", "v2.8.6", "v2.9.5", "v2.10.3", "v2.11.2", "v2.12.4", "v2.13.2", "v2.14.1", "v2.15.1",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    /// Parse `vX.Y.Z` (the `v` is optional).
    pub fn parse(s: &str) -> Option<Version> {
        let mut it = s.strip_prefix('v').unwrap_or(s).split('.');
        let v = Version {
            major: it.next()?.parse().ok()?,
            minor: it.next()?.parse().ok()?,
            patch: it.next()?.parse().ok()?,
        };
        it.next().is_none().then_some(v)
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// The release tag, `vX.Y.Z`.
    pub fn tag(&self) -> String {
        self.to_string()
    }

    pub fn online_asset(&self) -> String {
        format!("harbor-online-installer-{self}.tgz")
    }

    pub fn offline_asset(&self) -> String {
        format!("harbor-offline-installer-{self}.tgz")
    }

    /// The most bytes an installer tarball may have: every online installer is
    /// well under 100 MiB and every offline one under 2 GiB, so a download past
    /// these is not Harbor (an endless or wrong body).
    pub fn max_installer_bytes(&self, offline: bool) -> u64 {
        if offline { 2 << 30 } else { 100 << 20 }
    }

    /// Harbor counts a sigstore bundle referrer (cosign 3's default) as a
    /// cosign signature from v2.15.0; before, it is a plain subject accessory
    /// ("not signed", and the cosign policy refuses the pull).
    pub fn counts_bundle_signatures(&self) -> bool {
        self.at_least(2, 15)
    }

    /// `install.sh` flags this version accepts (besides `--help`).
    pub fn install_flags(&self) -> &'static [&'static str] {
        if self.at_least(2, 9) {
            &["--with-trivy"]
        } else if self.at_least(2, 8) {
            &["--with-notary", "--with-trivy"]
        } else {
            &["--with-notary", "--with-trivy", "--with-chartmuseum"]
        }
    }

    /// Dotted harbor.yml keys `prepare` reads with `[]` (a missing one is a crash).
    pub fn required_keys(&self) -> Vec<&'static str> {
        let mut keys = vec![
            "hostname",
            "harbor_admin_password",
            "data_volume",
            "jobservice.max_job_workers",
            "notification.webhook_job_max_retry",
            "log.level",
            "log.local",
        ];
        if self.at_least(2, 8) {
            keys.push("jobservice.logger_sweeper_duration");
            keys.push("notification.webhook_job_http_client_timeout");
        }
        if self.at_least(2, 9) {
            keys.push("jobservice.job_loggers");
        }
        keys
    }

    /// The message Harbor puts in its 412 when cosign enforcement blocks a pull.
    pub fn cosign_policy_message(&self) -> &'static str {
        if self.at_least(2, 9) {
            "The image is not signed by cosign."
        } else {
            "The image is not signed in Cosign."
        }
    }
}

/// The hostname every Harbor's harbor.yml.tmpl ships with.
pub const PLACEHOLDER_HOSTNAME: &str = "reg.mydomain.com";

/// The oldest Docker engine Harbor's installers accept (17.06).
pub const MIN_DOCKER: (u32, u32) = (17, 6);

/// Is `message` (a refused pull) Harbor's cosign policy refusing an unsigned
/// image, in the words of any version we support?
pub fn is_cosign_policy_refusal(message: &str) -> bool {
    ["v2.8.0", "v2.9.0"]
        .iter()
        .filter_map(|v| Version::parse(v))
        .any(|v| message.contains(v.cosign_policy_message().trim_end_matches('.')))
}

/// The version in an installer's file name as Harbor publishes it:
/// `harbor-{online,offline}-installer-vX.Y.Z.tgz`, also with an `-amd64`/`-arm64`
/// suffix (as later releases name them).
pub fn from_installer_name(name: &str) -> Option<Version> {
    let rest = name
        .strip_prefix("harbor-online-installer-")
        .or_else(|| name.strip_prefix("harbor-offline-installer-"))?
        .strip_suffix(".tgz")?;
    let tag = rest
        .strip_suffix("-amd64")
        .or_else(|| rest.strip_suffix("-arm64"))
        .unwrap_or(rest);
    Version::parse(tag)
}

/// The version an installer was packaged as: its `prepare` wrapper runs the
/// `goharbor/prepare:<tag>` image (the tag is written in at package time).
pub fn from_prepare_script(text: &str) -> Option<Version> {
    text.match_indices("goharbor/prepare:").find_map(|(i, m)| {
        let tag: String = text[i + m.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        Version::parse(&tag)
    })
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let v271 = Version::parse("v2.7.1").unwrap();
        assert_eq!(v271.online_asset(), "harbor-online-installer-v2.7.1.tgz");
        assert!(v271.install_flags().contains(&"--with-chartmuseum"));
        assert!(!v271.required_keys().contains(&"jobservice.job_loggers"));
        let new = Version::parse(DEFAULT_VERSION).unwrap();
        assert_eq!(new.install_flags(), &["--with-trivy"]);
        assert!(new.required_keys().contains(&"jobservice.job_loggers"));
        assert_eq!(
            new.cosign_policy_message(),
            "The image is not signed by cosign."
        );
        assert!(Version::parse("2.7").is_none());
        assert!(Version::parse("v2.7.1.1").is_none());
        assert!(is_cosign_policy_refusal(
            "pull access denied: PROJECTPOLICYVIOLATION: The image is not signed in Cosign."
        ));
        assert!(is_cosign_policy_refusal(
            "412: The image is not signed by cosign."
        ));
        assert!(!is_cosign_policy_refusal("manifest unknown"));
        for k in KNOWN_VERSIONS {
            assert!(Version::parse(k).is_some());
        }
        assert_eq!(*KNOWN_VERSIONS.last().unwrap(), DEFAULT_VERSION);
    }

    #[test]
    fn installer_versions() {
        let v = |s| Version::parse(s);
        assert_eq!(
            from_installer_name("harbor-online-installer-v2.7.1.tgz"),
            v("v2.7.1")
        );
        assert_eq!(
            from_installer_name("harbor-offline-installer-v2.15.1-arm64.tgz"),
            v("v2.15.1")
        );
        assert_eq!(from_installer_name("harbor.tgz"), None);
        assert_eq!(
            from_installer_name("harbor-online-installer-v2.7.tgz"),
            None
        );
        assert_eq!(
            from_installer_name("harbor-online-installer-v2.7.1.tar"),
            None
        );
        let prepare = "set -e\ndocker run --rm -v $input_dir:/input --privileged \
                       goharbor/prepare:v2.8.6 prepare $@\n";
        assert_eq!(from_prepare_script(prepare), v("v2.8.6"));
        // An untagged development build names no version.
        assert_eq!(from_prepare_script("goharbor/prepare:dev prepare"), None);
        assert_eq!(from_prepare_script("#!/bin/bash\necho hi\n"), None);
    }
}
