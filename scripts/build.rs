//! The build script (Cargo.toml: `build`). Release builds only: link with the
//! toolchain's own lld and a symbol order
//! (`scripts/verify.order`, made by `scripts/order-file.sh`) that puts the
//! functions a `verify` runs next to each other. The kernel maps code around
//! every page a process touches, so scattered code is resident memory
//! (README, bench (d)). Debug builds, other targets, a toolchain without its
//! lld, or a missing order file: the default link, nothing else changes.
//! Names the order file lists that a build does not have are skipped.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=scripts/build.rs");
    println!("cargo:rerun-if-changed=scripts/verify.order");
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-linux-gnu") {
        return;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return;
    };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let gcc_ld = sysroot.join("lib/rustlib").join(&target).join("bin/gcc-ld");
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let order = PathBuf::from(manifest).join("scripts/verify.order");
    if !gcc_ld.join("ld.lld").is_file() || !order.is_file() {
        return;
    }
    for arg in [
        "-fuse-ld=lld".to_string(),
        format!("-B{}", gcc_ld.display()),
        format!("-Wl,--symbol-ordering-file={}", order.display()),
        "-Wl,--no-warn-symbol-ordering".to_string(),
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
