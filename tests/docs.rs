//! The man page and shell completions: generated from the CLI, and installed
//! by scripts/install-docs.sh (which scripts/up.sh runs).

mod support;

use support::*;

#[test]
fn completions_for_each_shell_name_the_commands_and_flags() {
    let home = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "_harbor__lab()"),
        ("zsh", "#compdef harbor-lab"),
        ("fish", "complete -c harbor-lab"),
    ] {
        let out = run(harbor_lab(home.path()).args(["completions", shell]));
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.contains(marker), "{shell}: {}", out.stdout);
        for word in ["install", "verify", "daemon-config", "image-file"] {
            assert!(out.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let out = run(harbor_lab(home.path()).args(["completions", "tcsh"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("bash, zsh, fish"), "{}", out.stderr);
}

#[test]
fn the_man_page_is_roff_for_harbor_lab() {
    let home = tempfile::tempdir().unwrap();
    let out = run(harbor_lab(home.path()).arg("man"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(".TH harbor-lab 1"), "{}", out.stdout);
    assert!(out.stdout.contains("Exit codes"), "{}", out.stdout);
    for command in ["up", "install", "down", "demo", "sign", "verify"] {
        assert!(
            out.stdout.contains(&format!("harbor\\-lab\\-{command}(1)")),
            "{command} missing"
        );
    }
}

#[test]
fn install_docs_puts_the_man_page_and_completions_where_shells_look() {
    let prefix = tempfile::tempdir().unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-docs.sh");
    let out = run(std::process::Command::new(&script)
        .arg(env!("CARGO_BIN_EXE_harbor-lab"))
        .arg(prefix.path()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (file, marker) in [
        ("share/man/man1/harbor-lab.1", ".TH harbor-lab"),
        (
            "share/bash-completion/completions/harbor-lab",
            "_harbor__lab()",
        ),
        (
            "share/zsh/site-functions/_harbor-lab",
            "#compdef harbor-lab",
        ),
        (
            "share/fish/vendor_completions.d/harbor-lab.fish",
            "complete -c harbor-lab",
        ),
    ] {
        let text = std::fs::read_to_string(prefix.path().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(text.contains(marker), "{file}");
    }
}
