//! `insecure-registries` in the Docker daemon's config file: a pure merge that
//! keeps every other key, reading the file, finding the dockerd that reads it,
//! SIGHUP, and confirmation through the engine's `info`. The atomic write with
//! a one-time backup is the daemon-config step's (`lab/install/daemon.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum DaemonConfigError {
    #[error(
        "{path} is not valid JSON ({detail}); it was left untouched. Fix it (dockerd will not start with it either) and run again"
    )]
    InvalidJson { path: PathBuf, detail: String },
    #[error("{path}: {detail} (this is the Docker daemon config that --daemon-config names)")]
    Io { path: PathBuf, detail: String },
    #[error("{0}")]
    Reload(String),
}

/// The registry names Docker must treat as insecure for Harbor at host:port.
pub fn registry_entries(host: &str, port: u16) -> Vec<String> {
    let mut v = vec![format!("{host}:{port}")];
    if port == 80 {
        v.push(host.to_string());
    }
    v
}

/// The outcome of merging: the new file text (None when nothing changes).
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    pub new_text: Option<String>,
    pub added: Vec<String>,
}

/// Parse the config text (None = the file does not exist), let `change` edit
/// its `insecure-registries` list (an empty one when absent) and return the
/// entries it names, and serialise the result when there are any.
fn edit_list(
    path: &Path,
    current: Option<&str>,
    change: impl FnOnce(&mut Vec<Value>) -> Vec<String>,
) -> Result<Merge, DaemonConfigError> {
    let invalid = |detail: String| DaemonConfigError::InvalidJson {
        path: path.to_path_buf(),
        detail,
    };
    let mut doc: Value = match current {
        None => Value::Object(Default::default()),
        Some(t) if t.trim().is_empty() => Value::Object(Default::default()),
        Some(t) => serde_json::from_str(t).map_err(|e| invalid(e.to_string()))?,
    };
    let obj = doc
        .as_object_mut()
        .ok_or_else(|| invalid("the top level is not an object".into()))?;
    let list = obj
        .entry("insecure-registries")
        .or_insert_with(|| Value::Array(Vec::new()));
    let arr = list
        .as_array_mut()
        .ok_or_else(|| invalid("\"insecure-registries\" is not a list".into()))?;
    let added = change(arr);
    if added.is_empty() {
        return Ok(Merge {
            new_text: None,
            added,
        });
    }
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON serialises");
    text.push('\n');
    Ok(Merge {
        new_text: Some(text),
        added,
    })
}

/// What `down` writes back, decided from the file as it is now, the
/// pre-install copy and the entries this lab added.
#[derive(Debug, Clone, PartialEq)]
pub struct Restore {
    /// The file without this lab's entries (None: remove the file).
    pub text: Option<String>,
    /// `text` is the pre-install file itself (byte for byte), so the backup
    /// can go. False when the file holds changes made after the install (the
    /// user's, or another lab's entries): those are kept, and so is the backup.
    pub exact: bool,
    /// What dockerd must load first to forget our entries (see [`reload_text_for`]).
    pub reload_text: String,
}

/// Take this lab's `ours` entries out of `current` (None: the file is gone),
/// keeping everything else. When what is left is the `original` (None: there
/// was no file), the original comes back byte for byte, or the file goes.
pub fn restore_plan(
    path: &Path,
    current: Option<&str>,
    original: Option<&str>,
    ours: &[String],
) -> Result<Restore, DaemonConfigError> {
    let parse = |t: &str| -> Result<Value, DaemonConfigError> {
        if t.trim().is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_str(t).map_err(|e| DaemonConfigError::InvalidJson {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
    };
    let Some(current) = current else {
        return Ok(Restore {
            text: None,
            exact: false,
            reload_text: reload_text_for(original),
        });
    };
    let mut doc = parse(current)?;
    let original_doc = original.map(|o| parse(o).ok()).unwrap_or(None);
    let original_has_list = original_doc
        .as_ref()
        .is_some_and(|o| o.get("insecure-registries").is_some());
    if let Some(obj) = doc.as_object_mut() {
        let emptied = match obj
            .get_mut("insecure-registries")
            .and_then(Value::as_array_mut)
        {
            Some(list) => {
                list.retain(|v| !v.as_str().is_some_and(|s| ours.iter().any(|o| o == s)));
                list.is_empty()
            }
            None => false,
        };
        if emptied && !original_has_list {
            obj.remove("insecure-registries");
        }
    }
    let mut unmerged = serde_json::to_string_pretty(&doc).expect("JSON serialises");
    unmerged.push('\n');
    let empty = Value::Object(Default::default());
    let (text, exact) = match (original, &original_doc) {
        (Some(bytes), Some(o)) if *o == doc => (Some(bytes.to_string()), true),
        (None, _) if doc == empty => (None, true),
        _ => (Some(unmerged.clone()), false),
    };
    Ok(Restore {
        text,
        exact,
        reload_text: reload_text_for(Some(&unmerged)),
    })
}

/// Merge `entries` into the config text (None = the file does not exist).
pub fn merge(
    path: &Path,
    current: Option<&str>,
    entries: &[String],
) -> Result<Merge, DaemonConfigError> {
    edit_list(path, current, |arr| {
        let mut added = Vec::new();
        for e in entries {
            if !arr.iter().any(|v| v.as_str() == Some(e)) {
                arr.push(Value::String(e.clone()));
                added.push(e.clone());
            }
        }
        added
    })
}

/// Take `entries` out of `insecure-registries` (TLS mode: an entry an earlier
/// HTTP run added would make dockerd accept a broken certificate). The list
/// stays, possibly empty: dockerd's reload ignores an absent key. `added`
/// holds what was removed; None text when nothing changes.
pub fn remove(
    path: &Path,
    current: Option<&str>,
    entries: &[String],
) -> Result<Merge, DaemonConfigError> {
    edit_list(path, current, |arr| {
        let removed: Vec<String> = entries
            .iter()
            .filter(|e| arr.iter().any(|v| v.as_str() == Some(e.as_str())))
            .cloned()
            .collect();
        arr.retain(|v| !v.as_str().is_some_and(|s| removed.iter().any(|e| e == s)));
        removed
    })
}

/// The config dockerd must load to drop our entries when `original` (None: no
/// file) goes back. dockerd's reload leaves a setting alone when the key is
/// absent, so the list must be present, even if empty, for one reload.
pub fn reload_text_for(original: Option<&str>) -> String {
    let mut doc: Value = original
        .and_then(|t| serde_json::from_str(t).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::Object(Default::default()));
    if let Some(obj) = doc.as_object_mut() {
        obj.entry("insecure-registries")
            .or_insert_with(|| Value::Array(Vec::new()));
    }
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON serialises");
    text.push('\n');
    text
}

/// Wait until the engine no longer lists any of `entries`.
pub async fn confirm_gone(docker: &bollard::Docker, entries: &[String], wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Ok(info) = docker.info().await {
            let index = info
                .registry_config
                .and_then(|c| c.index_configs)
                .unwrap_or_default();
            if entries.iter().all(|e| !index.contains_key(e)) {
                return true;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Read the config file: None when it does not exist.
pub fn read(path: &Path) -> Result<Option<String>, DaemonConfigError> {
    match crate::fsutil::read_limited(path, crate::fsutil::CONFIG_FILE_MAX) {
        Ok(b) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| DaemonConfigError::InvalidJson {
                path: path.to_path_buf(),
                detail: "not UTF-8".into(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DaemonConfigError::Io {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }),
    }
}

/// The running dockerd whose config file is `path`, if any.
pub fn dockerd_for(path: &Path) -> Option<u32> {
    let want = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() != "dockerd" {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let mut config = PathBuf::from("/etc/docker/daemon.json");
        for (i, a) in args.iter().enumerate() {
            if a == "--config-file" {
                if let Some(v) = args.get(i + 1) {
                    config = PathBuf::from(v);
                }
            } else if let Some(v) = a.strip_prefix("--config-file=") {
                config = PathBuf::from(v);
            }
        }
        let config = std::fs::canonicalize(&config).unwrap_or(config);
        if config == want {
            return Some(pid);
        }
    }
    None
}

/// Send SIGHUP to `pid` (dockerd reloads insecure-registries on it).
pub fn sighup(pid: u32) -> Result<(), DaemonConfigError> {
    // SAFETY: kill(2) with a plain pid and signal number has no memory effects.
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGHUP) };
    if rc == 0 {
        Ok(())
    } else {
        Err(DaemonConfigError::Reload(format!(
            "cannot signal dockerd (pid {pid}): {}",
            std::io::Error::last_os_error()
        )))
    }
}

/// Do the engine's registry settings list every entry as insecure?
pub async fn engine_lists_insecure(
    docker: &bollard::Docker,
    entries: &[String],
) -> Result<bool, String> {
    let info = docker.info().await.map_err(|e| e.to_string())?;
    let Some(cfg) = info.registry_config else {
        return Ok(false);
    };
    let index = cfg.index_configs.unwrap_or_default();
    Ok(entries
        .iter()
        .all(|e| index.get(e).is_some_and(|ic| ic.secure == Some(false))))
}

/// Wait until the engine reports the entries as insecure.
pub async fn confirm(docker: &bollard::Docker, entries: &[String], wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if engine_lists_insecure(docker, entries)
            .await
            .unwrap_or(false)
        {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PathBuf {
        PathBuf::from("/etc/docker/daemon.json")
    }

    #[test]
    fn merge_keeps_keys_and_order_and_adds_once() {
        let cur =
            r#"{"log-driver": "json-file", "insecure-registries": ["a:5000"], "zzz": {"x": 1}}"#;
        let m = merge(&p(), Some(cur), &registry_entries("10.0.0.5", 80)).unwrap();
        assert_eq!(m.added, vec!["10.0.0.5:80", "10.0.0.5"]);
        let text = m.new_text.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["insecure-registries"],
            serde_json::json!(["a:5000", "10.0.0.5:80", "10.0.0.5"])
        );
        assert_eq!(v["zzz"]["x"], 1);
        assert!(text.find("log-driver").unwrap() < text.find("zzz").unwrap());
        let again = merge(&p(), Some(&text), &registry_entries("10.0.0.5", 80)).unwrap();
        assert_eq!(again.new_text, None);
    }

    #[test]
    fn remove_takes_out_only_our_entries_and_keeps_the_list() {
        let ours = registry_entries("10.0.0.5", 80);
        let cur =
            r#"{"debug": true, "insecure-registries": ["a:5000", "10.0.0.5:80", "10.0.0.5"]}"#;
        let m = remove(&p(), Some(cur), &ours).unwrap();
        assert_eq!(m.added, ours);
        let v: Value = serde_json::from_str(m.new_text.as_deref().unwrap()).unwrap();
        assert_eq!(v["insecure-registries"], serde_json::json!(["a:5000"]));
        assert_eq!(v["debug"], true);
        let m = remove(&p(), m.new_text.as_deref(), &ours).unwrap();
        assert_eq!(m.new_text, None);
        let only = r#"{"insecure-registries": ["10.0.0.5:80"]}"#;
        let m = remove(&p(), Some(only), &ours).unwrap();
        assert!(m.new_text.unwrap().contains("\"insecure-registries\": []"));
        assert_eq!(remove(&p(), None, &ours).unwrap().new_text, None);
        assert!(remove(&p(), Some("["), &ours).is_err());
    }

    #[test]
    fn missing_or_empty_file_starts_empty() {
        let m = merge(&p(), None, &registry_entries("h", 8080)).unwrap();
        assert_eq!(m.added, vec!["h:8080"]);
        assert!(
            merge(&p(), Some("  \n"), &["x".into()])
                .unwrap()
                .new_text
                .is_some()
        );
    }

    #[test]
    fn restore_takes_out_only_our_entries_and_is_exact_only_when_nothing_else_changed() {
        let ours = registry_entries("10.0.0.5", 8080);
        let original = "{\"log-level\":\"warn\"}";
        let ours_in = merge(&p(), Some(original), &ours)
            .unwrap()
            .new_text
            .unwrap();
        // As we left it: the original, byte for byte.
        let r = restore_plan(&p(), Some(&ours_in), Some(original), &ours).unwrap();
        assert_eq!((r.text.as_deref(), r.exact), (Some(original), true));
        assert!(
            r.reload_text.contains("\"insecure-registries\": []"),
            "{}",
            r.reload_text
        );
        // Another lab's entry (or an admin's mirror) came later: kept, not exact.
        let theirs = merge(&p(), Some(&ours_in), &registry_entries("10.0.0.5", 9090))
            .unwrap()
            .new_text
            .unwrap();
        let r = restore_plan(&p(), Some(&theirs), Some(original), &ours).unwrap();
        let v: Value = serde_json::from_str(r.text.as_deref().unwrap()).unwrap();
        assert_eq!(
            v["insecure-registries"],
            serde_json::json!(["10.0.0.5:9090"])
        );
        assert_eq!(v["log-level"], "warn");
        assert!(!r.exact);
        // No file before us and nothing else in it now: the file goes.
        let made = merge(&p(), None, &ours).unwrap().new_text.unwrap();
        let r = restore_plan(&p(), Some(&made), None, &ours).unwrap();
        assert_eq!((r.text, r.exact), (None, true));
    }

    #[test]
    fn invalid_json_is_refused_naming_the_file() {
        for bad in ["{", "[]", r#"{"insecure-registries": "x"}"#] {
            let e = merge(&p(), Some(bad), &["x".into()]).unwrap_err();
            assert!(e.to_string().contains("/etc/docker/daemon.json"), "{e}");
        }
    }
}
