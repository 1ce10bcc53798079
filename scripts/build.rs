//! The build script (Cargo.toml: `build`). Release builds only: link with the
//! toolchain's own lld and a symbol order
//! (`scripts/verify.order`, made by `scripts/order-file.sh`) that puts the
//! functions a `verify` runs next to each other. The kernel maps code around
//! every page a process touches, so scattered code is resident memory
//! (README, bench (d)). Relative relocations are packed (DT_RELR) when the C
//! library reads them, which cuts the loader's work at every start. Debug
//! builds, other targets, a toolchain without its lld, or a missing order
//! file: the default link, nothing else changes.
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
    if !gcc_ld.join("ld.lld").is_file() {
        return;
    }
    // The linker reads a copy in this build's own output directory (no copy:
    // no order file, the default link). Two checkouts sharing one target dir
    // (scripts/lab-env.sh puts it in the cache) share this script's output as
    // well; a path into the checkout that ran it last would break the other's
    // link once that one is gone.
    let Some(order) = std::env::var_os("OUT_DIR")
        .map(|d| PathBuf::from(d).join("verify.order"))
        .filter(|copy| std::fs::copy(&order, copy).is_ok())
    else {
        return;
    };
    let mut args = vec![
        "-fuse-ld=lld".to_string(),
        format!("-B{}", gcc_ld.display()),
        format!("-Wl,--symbol-ordering-file={}", order.display()),
        "-Wl,--no-warn-symbol-ordering".to_string(),
    ];
    if glibc_reads_relr() {
        args.push("-Wl,-z,pack-relative-relocs".to_string());
    }
    for arg in args {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}

/// Does the C library we link against apply packed relative relocations
/// (glibc 2.36 and later name the `GLIBC_ABI_DT_RELR` version)? With them the
/// loader reads a few KiB instead of ~440 KiB of relocation entries at every
/// start; an older glibc would ignore them and the binary would crash.
fn glibc_reads_relr() -> bool {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let Ok(out) = Command::new(cc).arg("-print-file-name=libc.so.6").output() else {
        return false;
    };
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::fs::read(&path).is_ok_and(|libc| {
        let needle = b"GLIBC_ABI_DT_RELR";
        libc.windows(needle.len()).any(|w| w == needle)
    })
}
