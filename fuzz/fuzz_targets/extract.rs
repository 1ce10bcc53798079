//! An installer archive from the network or the user's disk, gzip-compressed
//! or not: extraction never panics, and whatever it refuses leaves nothing
//! behind, neither the target nor a staging directory.
#![no_main]

use harbor_lab::installer::extract;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("harbor-offline-installer-v2.15.1.tgz");
    std::fs::write(&archive, data).unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let target = work.join("harbor");
    if extract::extract_installer(&archive, &target, &[]).is_err() {
        assert!(
            !target.exists(),
            "a refused archive left {}",
            target.display()
        );
        assert_eq!(
            std::fs::read_dir(&work).unwrap().count(),
            0,
            "staging left behind"
        );
    }
    // Nothing lands outside the work directory, accepted or not.
    let outside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n != "work" && n != "harbor-offline-installer-v2.15.1.tgz")
        .collect();
    assert!(
        outside.is_empty(),
        "written outside the work directory: {outside:?}"
    );
});
