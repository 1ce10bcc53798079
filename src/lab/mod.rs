//! The lab layer: what `install`, `demo`, `up`, `status` and `down` do, as
//! ordered lists of steps run by one executor (`step.rs`). Commands turn
//! flags into the typed options of `options.rs` and make one call in here; no
//! clap type is used below this line.
//!
//! Follow `up`: `up::plan` prints the steps of `install::steps`, the key step
//! and `demo::steps`; `up::up` runs `install::install` (the executor over
//! `install::steps`), `keys::ensure_lab_keys`, then `demo::run_demo`.

pub mod demo;
pub mod down;
pub mod freshness;
pub mod install;
pub mod keys;
pub mod options;
pub mod preflight;
pub mod report;
pub mod secrets;
pub mod status;
pub mod step;
pub mod up;

#[cfg(test)]
mod tests {
    use super::demo::{DemoReport, demo_fingerprint, image::DemoImage};
    use super::install::{extract_fingerprint, health_fingerprint, install_fingerprint_of};
    use super::keys::KeyPair;
    use super::options::StoryOptions;
    use crate::installer::versions::Version;
    use crate::journal::State;

    /// tests/fixtures/state-da58c46.json is the journal the da58c46 binary wrote
    /// for `up --download-base http://127.0.0.1:41330 --http-port 41329 --image
    /// hl-compat:v1 --image-file image.tar --workdir work` in /tmp/compat-da58c46
    /// (tests/fixtures/compat-da58c46.sh; tests/lab.rs resumes that workdir).
    /// This version must compute the same step ids and fingerprints from the
    /// same inputs, or that workdir would not resume.
    #[test]
    fn a_journal_of_da58c46_has_the_fingerprints_this_version_computes() {
        let state: State =
            serde_json::from_str(include_str!("../../tests/fixtures/state-da58c46.json")).unwrap();
        let fp = |id: &str| state.steps[id].fingerprint.clone();
        // md5sum of that installer.tgz.
        assert_eq!(
            fp("extract"),
            extract_fingerprint("93651003e8ca7608d9b6eaf265797965")
        );
        let harbor = state.harbor.clone().unwrap();
        let version = Version::parse(&harbor.version).unwrap();
        assert_eq!(
            fp("install"),
            install_fingerprint_of(&harbor.harbor_yml_sha256, &[], &version)
        );
        assert_eq!(fp("health"), health_fingerprint(&harbor.url));
        let demo = state.demo.clone().unwrap();
        let story = StoryOptions {
            image: "hl-compat:v1".into(),
            image_file: Some("image.tar".into()),
            pull: Default::default(),
            project: "library".into(),
            explain: false,
            keep_policy: false,
            fresh: false,
            password_file: None,
            signature_format: None,
        };
        let image = DemoImage::new("hl-compat:v1", "127.0.0.1:41329", "library").unwrap();
        let keys = KeyPair::at_prefix("/tmp/compat-da58c46/work/cosign".as_ref());
        assert_eq!(demo.fingerprint, demo_fingerprint(&story, &image, &keys));
        // The demo record reads back as this version's report, field for field.
        let text = include_str!("../../tests/fixtures/state-da58c46.json");
        let raw: serde_json::Value = serde_json::from_str(text).unwrap();
        let report: DemoReport = serde_json::from_value(raw["demo"].clone()).unwrap();
        // The journal keeps it whole.
        assert_eq!(serde_json::to_value(&report).unwrap(), raw["demo"]);
        // The --json report leaves the fingerprint out (an internal field) and shows the steps in the one
        // step shape: `name` is `id`, `ok` is status `ok` or `failed`.
        let mut reported = raw["demo"].clone();
        reported.as_object_mut().unwrap().remove("fingerprint");
        for s in reported["steps"].as_array_mut().unwrap() {
            let ok = s["ok"] == true;
            *s = serde_json::json!({"id": s["name"], "status": if ok { "ok" } else { "failed" }, "detail": s["detail"]});
        }
        assert_eq!(report.public_json(), reported);
        assert_eq!(serde_json::to_value(&demo).unwrap(), raw["demo"]);
    }
}
