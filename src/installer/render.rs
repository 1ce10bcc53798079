//! harbor.yml: the installer's own `harbor.yml.tmpl` with the lab's settings
//! (the repo's `harbor.yml.tmpl`, an overlay) applied line by line so that
//! comments survive, then parsed back and checked as `prepare` would.

use std::collections::BTreeMap;

use serde_norway::Value;

use super::versions::Version;

/// The lab's overlay, built into the binary.
pub const LAB_TEMPLATE: &str = include_str!("../../harbor.yml.tmpl");

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{source_name}: {detail}")]
    Template { source_name: String, detail: String },
    #[error("the rendered harbor.yml would be refused by Harbor's prepare: {0}")]
    Invalid(String),
}

/// The values the overlay's placeholders take.
#[derive(Debug, Clone)]
pub struct Settings {
    pub hostname: String,
    pub http_port: u16,
    pub admin_password: String,
    pub data_volume: String,
    /// `--tls`: the https block Harbor's nginx serves; None keeps the overlay's.
    pub https: Option<Https>,
}

/// harbor.yml's `https` block: the port and absolute host paths of the pair.
#[derive(Debug, Clone)]
pub struct Https {
    pub port: u16,
    pub certificate: String,
    pub private_key: String,
}

/// Format a string as a YAML scalar: plain when that reads back as the same
/// string, else double-quoted (JSON strings are valid YAML).
pub fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b))
        && !s.starts_with(['-', '.'])
        && matches!(serde_norway::from_str::<Value>(s), Ok(Value::String(ref v)) if v == s);
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("strings serialise")
    }
}

fn fill(template: &str, name: &str, s: &Settings) -> Result<String, RenderError> {
    let values: BTreeMap<&str, String> = BTreeMap::from([
        ("hostname", yaml_scalar(&s.hostname)),
        ("http_port", s.http_port.to_string()),
        ("admin_password", yaml_scalar(&s.admin_password)),
        ("data_volume", yaml_scalar(&s.data_volume)),
    ]);
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let key = rest[start + 2..start + len].trim();
        // Placeholders inside comments are prose, not values.
        let line_start = rest[..start].rfind('\n').map_or(0, |i| i + 1);
        let in_comment = rest[line_start..start].contains('#');
        out.push_str(&rest[..start]);
        match values.get(key) {
            Some(v) if !in_comment => out.push_str(v),
            _ if in_comment => out.push_str(&rest[start..start + len + 2]),
            _ => {
                return Err(RenderError::Template {
                    source_name: name.to_string(),
                    detail: format!(
                        "unknown placeholder {{{{ {key} }}}} (known: hostname, http_port, admin_password, data_volume)"
                    ),
                });
            }
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_top_key(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t', '#']) {
        return None;
    }
    let (key, _) = line.split_once(':')?;
    (!key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then_some(key)
}

/// The line range of top-level `key`'s block: its key line and the indented,
/// blank or indented-comment lines after it (trailing blank lines excluded).
fn block(lines: &[String], key: &str) -> Option<(usize, usize)> {
    let start = lines.iter().position(|l| is_top_key(l) == Some(key))?;
    let mut end = start + 1;
    while end < lines.len() {
        let l = &lines[end];
        if l.trim().is_empty() || l.starts_with([' ', '\t']) {
            end += 1;
        } else {
            break;
        }
    }
    while end > start + 1 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    Some((start, end))
}

fn scalar_text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(yaml_scalar(s)),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!(
            "only scalars are supported inside blocks, found {other:?}"
        )),
    }
}

/// Apply the lab overlay to the installer's template text.
pub fn render(
    installer_template: &str,
    overlay: &str,
    overlay_name: &str,
    settings: &Settings,
) -> Result<String, RenderError> {
    let filled = fill(overlay, overlay_name, settings)?;
    let tmpl_err = |detail: String| RenderError::Template {
        source_name: overlay_name.to_string(),
        detail,
    };
    let parsed: Value =
        serde_norway::from_str(&filled).map_err(|e| tmpl_err(format!("not valid YAML: {e}")))?;
    let Value::Mapping(mut map) = parsed else {
        return Err(tmpl_err("must be a mapping of harbor.yml keys".into()));
    };
    if let Some(h) = &settings.https {
        // TLS mode wins over the overlay's `https: ~`; the installer's own
        // block (and its comments) is edited in place.
        let mut block = serde_norway::Mapping::new();
        block.insert("port".into(), Value::Number(h.port.into()));
        block.insert("certificate".into(), Value::String(h.certificate.clone()));
        block.insert("private_key".into(), Value::String(h.private_key.clone()));
        map.insert("https".into(), Value::Mapping(block));
    }
    let mut lines: Vec<String> = installer_template.lines().map(str::to_string).collect();
    for (k, v) in map {
        let Value::String(key) = k else {
            return Err(tmpl_err("keys must be strings".into()));
        };
        match (&v, block(&lines, &key)) {
            (Value::Null, Some((s, e))) => {
                for line in &mut lines[s..e] {
                    if !line.trim().is_empty() {
                        *line = format!("# {line}");
                    }
                }
            }
            (Value::Null, None) => {}
            (Value::Mapping(inner), found) => {
                let (s, mut e) = match found {
                    Some(r) => r,
                    None => {
                        lines.push(format!("{key}:"));
                        (lines.len() - 1, lines.len())
                    }
                };
                for (ik, iv) in inner {
                    let Value::String(ik) = ik else {
                        return Err(tmpl_err(format!("keys under {key} must be strings")));
                    };
                    let text = scalar_text(iv).map_err(|d| tmpl_err(format!("{key}.{ik}: {d}")))?;
                    let hit = (s + 1..e).find(|&i| {
                        let l = &lines[i];
                        let t = l.trim_start();
                        !t.starts_with('#') && t.split_once(':').is_some_and(|(name, _)| name == ik)
                    });
                    match hit {
                        Some(i) => {
                            let indent = lines[i].len() - lines[i].trim_start().len();
                            lines[i] = format!("{}{ik}: {text}", " ".repeat(indent));
                        }
                        None => {
                            lines.insert(s + 1, format!("  {ik}: {text}"));
                            e += 1;
                        }
                    }
                }
            }
            (scalar, found) => {
                let text = scalar_text(scalar).map_err(|d| tmpl_err(format!("{key}: {d}")))?;
                match found {
                    Some((s, _)) => lines[s] = format!("{key}: {text}"),
                    None => lines.push(format!("{key}: {text}")),
                }
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    Ok(out)
}

fn lookup<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted
        .split('.')
        .try_fold(v, |cur, part| cur.as_mapping()?.get(part))
}

/// harbor.yml text (or a diff of it) with the value of every `...password:` key
/// replaced, so that showing it never shows a secret.
pub fn hide_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        // Past a diff marker and the YAML indentation, to the key.
        let body = line.trim_start_matches(['+', '-', ' ']);
        let lead = &line[..line.len() - body.len()];
        let secret = body.split_once(':').filter(|(key, value)| {
            key.ends_with("password")
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !value.trim().is_empty()
        });
        match secret {
            Some((key, _)) => {
                out.push_str(lead);
                out.push_str(key);
                out.push_str(": ********");
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Parse a harbor.yml back and check it as `prepare` would for `version`.
pub fn validate(text: &str, version: &Version, allow_loopback: bool) -> Result<Value, RenderError> {
    let bad = |m: String| RenderError::Invalid(m);
    let v: Value = serde_norway::from_str(text).map_err(|e| bad(format!("not YAML: {e}")))?;
    for key in version.required_keys() {
        if lookup(&v, key).is_none_or(Value::is_null) {
            return Err(bad(format!(
                "{key} is missing (Harbor {version} requires it; if the installer is another \
                 version, pass --harbor-version)"
            )));
        }
    }
    let host = lookup(&v, "hostname").and_then(Value::as_str).unwrap_or("");
    if host == super::versions::PLACEHOLDER_HOSTNAME {
        return Err(bad(
            "hostname is still the placeholder reg.mydomain.com".into()
        ));
    }
    if host == "127.0.0.1" && !allow_loopback {
        return Err(bad("127.0.0.1 can not be the hostname".into()));
    }
    match lookup(&v, "http.port").and_then(Value::as_u64) {
        Some(p) if (1..=65535).contains(&p) => {}
        _ => return Err(bad("http.port must be a port number".into())),
    }
    if let Some(https) = lookup(&v, "https").filter(|h| !h.is_null()) {
        let port = https.get("port").and_then(Value::as_u64);
        if !port.is_some_and(|p| (1..=65535).contains(&p)) {
            return Err(bad("https.port must be a port number".into()));
        }
        if port == lookup(&v, "http.port").and_then(Value::as_u64) {
            return Err(bad("https.port and http.port must differ".into()));
        }
        for (k, placeholder) in [
            ("certificate", "/your/certificate/path"),
            ("private_key", "/your/private/key/path"),
        ] {
            let val = https.get(k).and_then(Value::as_str).unwrap_or("");
            if val.is_empty() || val == placeholder {
                return Err(bad(format!(
                    "https is on but https.{k} is not set; remove the https block for HTTP"
                )));
            }
        }
    }
    let level = lookup(&v, "log.level")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !["debug", "info", "warning", "error", "fatal"].contains(&level) {
        return Err(bad(format!(
            "log.level {level:?} is not debug|info|warning|error|fatal"
        )));
    }
    match lookup(&v, "harbor_admin_password") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => {
            return Err(bad(
                "harbor_admin_password must be a non-empty string".into()
            ));
        }
    }
    // prepare reads data_volume with grep '^[^#]*data_volume:' | awk '{print $NF}'.
    let volume = lookup(&v, "data_volume")
        .and_then(Value::as_str)
        .unwrap_or("");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.split('#').next().unwrap_or("").contains("data_volume:"))
        .collect();
    let last_field = lines.first().and_then(|l| l.split_whitespace().last());
    if lines.len() != 1 || last_field != Some(volume) || !volume.starts_with('/') {
        return Err(bad(
            "data_volume must be one uncommented line `data_volume: /absolute/path` with no trailing comment".into(),
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = "# Configuration file of Harbor\n\n# The IP address or hostname\nhostname: reg.mydomain.com\n\n# http related config\nhttp:\n  # port for http, default is 80.\n  port: 80\n\n# https related config\nhttps:\n  # https port for harbor, default is 443\n  port: 443\n  certificate: /your/certificate/path\n  private_key: /your/private/key/path\n\nharbor_admin_password: Harbor12345\n\ndatabase:\n  password: root123\n\ndata_volume: /data\n\njobservice:\n  max_job_workers: 10\n\nnotification:\n  webhook_job_max_retry: 10\n\nlog:\n  level: info\n  local:\n    location: /var/log/harbor\n\n_version: 2.7.0\n";

    fn settings() -> Settings {
        Settings {
            hostname: "10.0.0.5".into(),
            http_port: 8080,
            admin_password: "pa:ss#word".into(),
            data_volume: "/var/lib/harbor-lab/data".into(),
            https: None,
        }
    }

    #[test]
    fn tls_mode_fills_the_https_block_in_place() {
        let mut s = settings();
        s.https = Some(Https {
            port: 8443,
            certificate: "/w/tls/server.crt".into(),
            private_key: "/w/tls/server.key".into(),
        });
        let out = render(SHIPPED, LAB_TEMPLATE, "harbor.yml.tmpl", &s).unwrap();
        assert!(
            out.contains(
                "# https related config\nhttps:\n  # https port for harbor, default is 443\n  port: 8443\n  certificate: /w/tls/server.crt\n  private_key: /w/tls/server.key\n"
            ),
            "{out}"
        );
        let v = validate(&out, &Version::parse("v2.7.1").unwrap(), false).unwrap();
        assert_eq!(lookup(&v, "https.port").and_then(Value::as_u64), Some(8443));
        let clash = out.replace("port: 8443", "port: 8080");
        let e = validate(&clash, &Version::parse("v2.7.1").unwrap(), false).unwrap_err();
        assert!(e.to_string().contains("must differ"), "{e}");
    }

    #[test]
    fn overlay_keeps_comments_and_sets_values() {
        let out = render(SHIPPED, LAB_TEMPLATE, "harbor.yml.tmpl", &settings()).unwrap();
        assert!(
            out.contains("# port for http, default is 80.\n  port: 8080\n"),
            "{out}"
        );
        assert!(out.contains("hostname: 10.0.0.5\n"));
        assert!(
            out.contains("# https:\n#   # https port for harbor"),
            "{out}"
        );
        assert!(out.contains("harbor_admin_password: \"pa:ss#word\"\n"));
        assert!(out.contains("data_volume: /var/lib/harbor-lab/data\n"));
        assert!(out.contains("# Configuration file of Harbor"));
        let v = validate(&out, &Version::parse("v2.7.1").unwrap(), false).unwrap();
        assert_eq!(
            lookup(&v, "harbor_admin_password").unwrap().as_str(),
            Some("pa:ss#word")
        );
        assert!(lookup(&v, "https").is_none());
        // v2.9+ needs keys this v2.7-shaped template lacks.
        assert!(validate(&out, &Version::parse("v2.9.0").unwrap(), false).is_err());
    }

    #[test]
    fn validation_mirrors_prepare() {
        let v271 = Version::parse("v2.7.1").unwrap();
        let err = |text: &str| validate(text, &v271, false).unwrap_err().to_string();
        assert!(err(SHIPPED).contains("placeholder"), "{}", err(SHIPPED));
        let named = SHIPPED.replace("reg.mydomain.com", "10.0.0.5");
        assert!(err(&named).contains("https.certificate"), "{}", err(&named));
        let mut s = settings();
        s.hostname = "127.0.0.1".into();
        let out = render(SHIPPED, LAB_TEMPLATE, "t", &s).unwrap();
        assert!(validate(&out, &v271, false).is_err());
        assert!(validate(&out, &v271, true).is_ok());
        let broken = out.replace(
            "data_volume: /var/lib/harbor-lab/data",
            "data_volume: /x # comment",
        );
        assert!(validate(&broken, &v271, true).is_err());
    }

    #[test]
    fn unknown_placeholders_are_named() {
        let err = render(SHIPPED, "hostname: {{ nope }}\n", "my.tmpl", &settings()).unwrap_err();
        assert!(err.to_string().contains("my.tmpl") && err.to_string().contains("nope"));
    }

    #[test]
    fn scalars_read_back_as_themselves() {
        for s in [
            "abc", "123", "true", "null", "a b", "x:y", "", "-x", "/data/x",
        ] {
            let y = format!("k: {}\n", yaml_scalar(s));
            let v: Value = serde_norway::from_str(&y).unwrap();
            assert_eq!(v.get("k").and_then(Value::as_str), Some(s), "{s:?} -> {y}");
        }
    }
}
