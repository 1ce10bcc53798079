//! The machine's register of labs: which workdir's Harbor holds which HTTP
//! port. `install` registers its port once Harbor is healthy and `down`
//! removes it, so that a second lab's preflight can say whose Harbor is in
//! its way (and where to run `down`). One small file per port under
//! `<cache>/labs/`, so that two labs never write the same file.

use std::path::{Path, PathBuf};

use crate::context::Context;

fn entry(ctx: &Context, port: u16) -> PathBuf {
    ctx.cache_dir().join("labs").join(format!("port-{port}"))
}

/// The workdir whose Harbor was installed on `port`, if one is registered.
pub fn holder(ctx: &Context, port: u16) -> Option<PathBuf> {
    let text =
        crate::fsutil::read_limited_text(&entry(ctx, port), crate::fsutil::SMALL_FILE_MAX).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| PathBuf::from(line))
}

/// Register `workdir` as the lab on `port` (best effort: the register only
/// improves messages).
pub fn register(ctx: &Context, port: u16, workdir: &Path) {
    let path = entry(ctx, port);
    if let Some(dir) = path.parent()
        && std::fs::create_dir_all(dir).is_ok()
    {
        let _ = crate::fsutil::write_atomic(
            &path,
            format!("{}\n", workdir.display()).as_bytes(),
            0o644,
        );
    }
}

/// Take `workdir` off `port`, if it is the one registered there.
pub fn unregister(ctx: &Context, port: u16, workdir: &Path) {
    if holder(ctx, port).as_deref() == Some(workdir) {
        let _ = std::fs::remove_file(entry(ctx, port));
    }
}

/// Who holds a port that Harbor answers on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortOwner {
    /// No Harbor answers there.
    NoHarbor,
    /// This workdir's Harbor (a re-run).
    ThisLab,
    /// Another Harbor: another lab's (its workdir, when registered) or one
    /// harbor-lab did not install.
    OtherHarbor(Option<PathBuf>),
}

/// Who holds `port`, given whether a Harbor answers there and whether this
/// workdir's journal says it installed the Harbor on that port.
pub fn owner(
    ctx: &Context,
    port: u16,
    harbor_answers: bool,
    workdir: &Path,
    journal_says_ours: bool,
) -> PortOwner {
    if !harbor_answers {
        return PortOwner::NoHarbor;
    }
    match holder(ctx, port) {
        Some(w) if w == workdir => PortOwner::ThisLab,
        Some(w) => PortOwner::OtherHarbor(Some(w)),
        None if journal_says_ours => PortOwner::ThisLab,
        None => PortOwner::OtherHarbor(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_register_names_the_other_lab() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let ctx = Context::for_test(dir.path(), &[("HARBOR_LAB_CACHE", cache.to_str().unwrap())]);
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        assert_eq!(
            owner(&ctx, 8080, true, &a, false),
            PortOwner::OtherHarbor(None)
        );
        assert_eq!(owner(&ctx, 8080, true, &a, true), PortOwner::ThisLab);
        register(&ctx, 8080, &b);
        assert_eq!(
            owner(&ctx, 8080, true, &a, true),
            PortOwner::OtherHarbor(Some(b.clone()))
        );
        assert_eq!(owner(&ctx, 8080, true, &b, false), PortOwner::ThisLab);
        assert_eq!(owner(&ctx, 8080, false, &a, false), PortOwner::NoHarbor);
        unregister(&ctx, 8080, &a);
        assert_eq!(holder(&ctx, 8080), Some(b.clone()));
        unregister(&ctx, 8080, &b);
        assert_eq!(holder(&ctx, 8080), None);
    }
}
