//! Text a user or a server hands us: image references, WWW-Authenticate
//! challenges, `-a` annotations, harbor.yml, daemon.json, installer names and
//! scripts, md5sum files, TUF durations and expiry times, delegation patterns.
//! None may panic; a reference that parses prints back to itself, and a merged
//! daemon.json merges again to no change.
#![no_main]

use harbor_lab::cosign::payload;
use harbor_lab::docker::daemon_config;
use harbor_lab::installer::versions::{self, Version};
use harbor_lab::installer::{download, render};
use harbor_lab::registry::{Reference, auth};
use harbor_lab::tuf::{self, metadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();

    if let Ok(r) = Reference::parse(text) {
        let again = Reference::parse(&r.to_string()).expect("a printed reference parses");
        assert_eq!(again, r);
    }
    let _ = auth::parse_challenge(text);
    let _ = payload::parse_annotation(text);

    for (version, loopback) in [("v2.7.1", false), ("v2.15.1", true)] {
        let _ = render::validate(text, &Version::parse(version).unwrap(), loopback);
    }
    let _ = render::hide_passwords(text);

    let path = std::path::Path::new("/etc/docker/daemon.json");
    let entries = daemon_config::registry_entries("10.0.0.5", 80);
    if let Ok(m) = daemon_config::merge(path, Some(text), &entries) {
        let merged = m.new_text.unwrap_or_else(|| text.to_string());
        let again =
            daemon_config::merge(path, Some(&merged), &entries).expect("merged text merges");
        assert_eq!(again.new_text, None, "a second merge changed {merged:?}");
    }

    let _ = versions::from_installer_name(text);
    let _ = versions::from_prepare_script(text);
    let _ = Version::parse(text);
    let _ = download::md5_for(text, "harbor-offline-installer-v2.15.1.tgz");

    let _ = tuf::parse_duration(text);
    let _ = metadata::parse_expiry(text);
    if let Some((target, pattern)) = text.split_once('\n') {
        let _ = metadata::path_matches(target, pattern);
    }
});
