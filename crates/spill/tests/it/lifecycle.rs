//! Directories and files are removed when dropped, stale directories at
//! start, and the counters follow.

use std::fs;
use std::sync::Arc;

use parframe_spill::{SpillDir, SpillFile, SpillStats};

use crate::common::{mixed_batch, spill, spill_dir};

#[test]
fn directory_is_removed_on_drop() {
    let parent = tempfile::tempdir().unwrap();
    let dir = SpillDir::new_in(parent.path()).unwrap();
    let path = dir.path().to_path_buf();
    assert!(path.is_dir());
    assert!(path.starts_with(parent.path()));
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with(&format!("parframe-spill-{}-", std::process::id())),
        "{name}"
    );
    let file = spill(&dir, &[mixed_batch(0, 10)]);
    // Files keep the directory alive: it goes with the last of them.
    drop(dir);
    assert!(path.is_dir());
    drop(file);
    assert!(!path.exists());
    assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 0);
}

#[test]
fn default_directory_is_in_the_temp_dir() {
    let dir = SpillDir::new().unwrap();
    assert_eq!(dir.path().parent().unwrap(), std::env::temp_dir());
    let path = dir.path().to_path_buf();
    drop(dir);
    assert!(!path.exists());
}

#[test]
fn directory_with_leftovers_is_removed_on_drop() {
    let (_parent, dir) = spill_dir();
    let path = dir.path().to_path_buf();
    fs::create_dir(path.join("sub")).unwrap();
    fs::write(path.join("sub").join("x"), b"x").unwrap();
    drop(dir);
    assert!(!path.exists());
}

#[test]
fn files_are_removed_on_drop_and_counted() {
    let (_parent, dir) = spill_dir();
    let batch = mixed_batch(0, 100);
    let a = spill(&dir, std::slice::from_ref(&batch));
    let b = spill(&dir, &[batch.clone(), batch.clone()]);
    assert_ne!(a.path(), b.path());
    assert!(a.path().starts_with(dir.path()));
    assert!(a.path().to_str().unwrap().ends_with("-test.arrow"));
    assert_eq!(
        a.stats(),
        SpillStats {
            files: 1,
            bytes: a.bytes(),
            rows: 100
        }
    );
    let both = a.stats() + b.stats();
    assert_eq!(dir.live(), both);
    assert_eq!(dir.stats(), both);

    let (pa, pb) = (a.path().to_path_buf(), b.path().to_path_buf());
    drop(a);
    assert!(!pa.exists());
    assert!(pb.exists());
    assert_eq!(dir.live(), b.stats());
    drop(b);
    assert!(!pb.exists());
    assert_eq!(dir.live(), SpillStats::default());
    // Written totals keep counting removed files.
    assert_eq!(dir.stats(), both);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn abandoned_writer_removes_its_file() {
    let (_parent, dir) = spill_dir();
    let batch = mixed_batch(0, 100);
    let mut w = dir.new_file("abandoned", batch.schema()).unwrap();
    w.write(&batch).unwrap();
    assert_eq!((w.rows(), w.num_batches()), (100, 1));
    let path = w.path().to_path_buf();
    drop(w);
    assert!(!path.exists());
    assert_eq!(dir.stats(), SpillStats::default());
}

#[test]
fn many_threads_share_one_directory() {
    let (_parent, dir) = spill_dir();
    let files: Vec<SpillFile> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let dir = dir.clone();
                s.spawn(move || {
                    (0..5)
                        .map(|i| spill(&dir, &[mixed_batch(t * 1000 + i * 10, 10)]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(dir.live().files, 20);
    assert_eq!(dir.live().rows, 200);
    let files = Arc::new(files);
    std::thread::scope(|s| {
        for t in 0..2 {
            let files = Arc::clone(&files);
            s.spawn(move || {
                for f in files.iter().skip(t).step_by(2) {
                    assert_eq!(f.read().unwrap().map(Result::unwrap).count(), 1);
                }
            });
        }
    });
    drop(files);
    assert_eq!(dir.live(), SpillStats::default());
    assert_eq!(dir.stats().files, 20);
}

#[test]
fn stale_directory_of_a_dead_process_is_removed_at_start() {
    let parent = tempfile::tempdir().unwrap();
    let p = parent.path();
    // Left behind: a directory whose lock file nobody holds.
    let stale = p.join("parframe-spill-7-0");
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("000000-sort.arrow"), b"old").unwrap();
    fs::write(p.join("parframe-spill-7-0.lock"), b"").unwrap();
    // Alive: its lock is held (here by this test, as a process in another
    // PID namespace would hold it), whatever its pid says: 4294967 is above
    // Linux's largest pid, so a liveness check by pid would call it dead.
    let live = p.join("parframe-spill-4294967-0");
    fs::create_dir(&live).unwrap();
    let held = fs::File::create(p.join("parframe-spill-4294967-0.lock")).unwrap();
    held.try_lock().unwrap();
    // Left alone: no lock file (being made, or an older version's), a name
    // that is not a spill directory, and a plain file.
    let unlocked = p.join("parframe-spill-4294966-0");
    let other = p.join("parframe-spill-notapid");
    let plain = p.join("parframe-spill-4294965-0");
    for d in [&unlocked, &other] {
        fs::create_dir(d).unwrap();
    }
    fs::write(&plain, b"not a dir").unwrap();

    let dir = SpillDir::new_in(p).unwrap();
    assert!(!stale.exists(), "stale directory survived");
    assert!(!p.join("parframe-spill-7-0.lock").exists());
    for kept in [&live, &unlocked, &other, &plain] {
        assert!(kept.exists(), "{} was removed", kept.display());
    }
    assert!(dir.path().is_dir());
    // Our own directory is locked too: another cleaner leaves it.
    assert_eq!(SpillDir::remove_stale_in(p), 0);
    assert!(dir.path().is_dir());
    let path = dir.path().to_path_buf();
    drop(dir);
    assert!(!path.exists());
    let lock = format!("{}.lock", path.file_name().unwrap().to_str().unwrap());
    assert!(
        !p.join(lock).exists(),
        "the lock file is removed with the directory"
    );
    drop(held);
    // Once its holder is gone, the live one is stale.
    assert_eq!(SpillDir::remove_stale_in(p), 1);
    assert!(!live.exists());
}
