//! The snapshot of process-global state: environment variables, the current
//! directory, the home directory, the clock, the effective uid and whether the
//! standard streams are terminals, taken once in `main`. Everything else takes
//! a `&Context` for these. (The machine checks in `installer/preflight.rs` and
//! the dockerd scan in `docker/daemon_config.rs` read /proc and statvfs
//! themselves: they are facts about the machine, not the process.)

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub struct Context {
    /// Values are kept as the OS gave them: a secret need not be UTF-8.
    env: BTreeMap<String, OsString>,
    cwd: PathBuf,
    home: Option<PathBuf>,
    /// Is standard input a terminal (so a prompt can be answered)?
    pub stdin_tty: bool,
    /// Is standard error a terminal (so progress bars can be drawn)?
    pub stderr_tty: bool,
    /// Effective user id is 0.
    pub is_root: bool,
    clock: fn() -> SystemTime,
}

impl Context {
    /// Snapshot the real process state.
    pub fn from_os() -> Self {
        let env: BTreeMap<String, OsString> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
            .collect();
        let home = env.get("HOME").map(PathBuf::from);
        Context {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            home,
            env,
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
            is_root: is_root(),
            clock: SystemTime::now,
        }
    }

    /// A context for unit tests: no terminal, the given environment, `root` as
    /// cwd and home.
    #[cfg(test)]
    pub fn for_test(root: &Path, env: &[(&str, &str)]) -> Self {
        Context {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), OsString::from(v)))
                .collect(),
            cwd: root.to_path_buf(),
            home: Some(root.to_path_buf()),
            stdin_tty: false,
            stderr_tty: false,
            is_root: false,
            clock: SystemTime::now,
        }
    }

    /// An environment variable, if set and UTF-8 (set-but-empty is `Some("")`).
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env.get(key).and_then(|v| v.to_str())
    }

    /// An environment variable as the OS gave it, UTF-8 or not (secrets are bytes).
    pub fn var_os(&self, key: &str) -> Option<&OsStr> {
        self.env.get(key).map(OsString::as_os_str)
    }

    /// All environment variables (for passing a cleaned environment to children).
    pub fn vars(&self) -> impl Iterator<Item = (&str, &OsStr)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_os_str()))
    }

    /// A fault-injection point for tests: when `HARBOR_LAB_FAULT` names
    /// `point`, the process is killed here with SIGKILL (as a power cut or
    /// `kill -9` would stop it), so tests can prove what a re-run recovers.
    pub fn fault_point(&self, point: &str) {
        if self.var("HARBOR_LAB_FAULT") == Some(point) {
            // SAFETY: kill(2) on our own pid with a plain signal number.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }

    pub fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// Resolve a user-given path against the working directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.cwd.join(p)
        }
    }

    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// `NO_COLOR` set to anything non-empty turns colour off (no-color.org).
    pub fn no_color(&self) -> bool {
        self.var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    /// Docker's client configuration directory: `$DOCKER_CONFIG`, else `~/.docker`.
    pub fn docker_config_dir(&self) -> Option<PathBuf> {
        if let Some(d) = self.var("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
            return Some(self.resolve(Path::new(d)));
        }
        self.home.as_ref().map(|h| h.join(".docker"))
    }

    /// Where harbor-lab keeps its state (the install workdir): `$HARBOR_LAB_HOME`,
    /// else `/var/lib/harbor-lab` for root, else `$XDG_STATE_HOME/harbor-lab`.
    pub fn state_dir(&self) -> PathBuf {
        if let Some(d) = self.var("HARBOR_LAB_HOME").filter(|d| !d.is_empty()) {
            return self.resolve(Path::new(d));
        }
        if self.is_root {
            return PathBuf::from("/var/lib/harbor-lab");
        }
        if let Some(d) = self.var("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(d).join("harbor-lab");
        }
        match &self.home {
            Some(h) => h.join(".local/state/harbor-lab"),
            None => self.cwd.join(".harbor-lab"),
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Context {
    /// Where downloads are cached: `$HARBOR_LAB_CACHE`, else `/var/cache/harbor-lab`
    /// for root, else `$XDG_CACHE_HOME/harbor-lab` or `~/.cache/harbor-lab`.
    pub fn cache_dir(&self) -> PathBuf {
        if let Some(d) = self.var("HARBOR_LAB_CACHE").filter(|d| !d.is_empty()) {
            return self.resolve(Path::new(d));
        }
        if self.is_root {
            return PathBuf::from("/var/cache/harbor-lab");
        }
        if let Some(d) = self.var("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(d).join("harbor-lab");
        }
        match &self.home {
            Some(h) => h.join(".cache/harbor-lab"),
            None => self.cwd.join(".harbor-lab-cache"),
        }
    }

    /// Where harbor-lab processes on this machine take turns (lock files).
    pub fn locks_dir(&self) -> PathBuf {
        self.cache_dir().join("locks")
    }

    /// What earlier runs learnt about registries (`registry::hints`).
    pub fn registry_hints_dir(&self) -> PathBuf {
        self.cache_dir().join("registries")
    }

    /// What registries served by digest (`registry::cas`).
    pub fn content_dir(&self) -> PathBuf {
        self.cache_dir().join("content")
    }

    /// Is a program on `PATH`?
    pub fn which(&self, program: &str) -> Option<PathBuf> {
        let path = self
            .var("PATH")
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .map(|d| Path::new(d).join(program))
            .find(|p| p.is_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_prefers_env() {
        let ctx = Context::for_test(Path::new("/r"), &[("DOCKER_CONFIG", "cfg")]);
        assert_eq!(ctx.docker_config_dir().unwrap(), PathBuf::from("/r/cfg"));
        let ctx = Context::for_test(Path::new("/r"), &[]);
        assert_eq!(
            ctx.docker_config_dir().unwrap(),
            PathBuf::from("/r/.docker")
        );
    }

    #[test]
    fn empty_no_color_does_not_disable_colour() {
        assert!(!Context::for_test(Path::new("/"), &[("NO_COLOR", "")]).no_color());
        assert!(Context::for_test(Path::new("/"), &[("NO_COLOR", "1")]).no_color());
    }
}
