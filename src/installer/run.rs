//! Run Harbor's `install.sh` with a clean environment, its output streamed to
//! a log file in the workdir, and its `ERROR` lines surfaced on failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::context::Context;
use crate::ui::Reporter;

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot run {script}: {detail}")]
    Spawn { script: PathBuf, detail: String },
    #[error("{script} failed ({status}); the full log is {log}{}", if errors.is_empty() { String::new() } else { format!(":\n  {}", errors.join("\n  ")) })]
    Failed {
        script: PathBuf,
        status: String,
        log: PathBuf,
        errors: Vec<String>,
    },
}

/// Run `install.sh` in `harbor_dir` with `flags`, in a copy of the caller's
/// environment from which `host` is removed (install.sh would otherwise
/// rewrite harbor.yml's hostname with it).
pub async fn run_install_sh(
    ctx: &Context,
    ui: &Reporter,
    harbor_dir: &Path,
    flags: &[String],
    log_path: &Path,
) -> Result<(), InstallError> {
    let script = harbor_dir.join("install.sh");
    let spawn_err = |detail: String| InstallError::Spawn {
        script: script.clone(),
        detail,
    };
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg(&script)
        .args(flags)
        .current_dir(harbor_dir)
        .env_clear()
        .envs(ctx.vars().filter(|(k, _)| *k != "host"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if ctx.var("TERM").is_none_or(str::is_empty) {
        cmd.env("TERM", "dumb");
    }
    let mut child = cmd.spawn().map_err(|e| spawn_err(e.to_string()))?;
    let mut log = tokio::fs::File::create(log_path)
        .await
        .map_err(|e| spawn_err(format!("cannot create the log {}: {e}", log_path.display())))?;
    let spinner = ui.spinner(&format!("running {}", script.display()));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(256);
    for pipe in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(line).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut errors = Vec::new();
    while let Some(line) = rx.recv().await {
        let _ = log.write_all(line.as_bytes()).await;
        let _ = log.write_all(b"\n").await;
        if line.contains("ERROR") || line.contains("Error happened") {
            errors.push(line.clone());
        }
        let short: String = line.chars().take(70).collect();
        spinner.set_message(short);
    }
    let _ = log.flush().await;
    let status = child.wait().await.map_err(|e| spawn_err(e.to_string()))?;
    spinner.finish_and_clear();
    if status.success() {
        return Ok(());
    }
    if errors.is_empty() {
        // Show the tail when the script printed no ERROR line.
        let text = std::fs::read_to_string(log_path).unwrap_or_default();
        errors = text.lines().rev().take(5).map(str::to_string).collect();
        errors.reverse();
    }
    Err(InstallError::Failed {
        script,
        status: status.to_string(),
        log: log_path.to_path_buf(),
        errors,
    })
}
