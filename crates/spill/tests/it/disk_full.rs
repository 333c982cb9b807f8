//! A full disk gives a clear error and leaves no partial file. Uses a tiny
//! tmpfs when this process may mount one (root on Linux); otherwise the
//! test is skipped here and the unit tests of the writer cover the same
//! path with an injected failing writer and /dev/full.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use parframe_common::Error;
use parframe_spill::SpillDir;

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Tmpfs {
    mount_point: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let mount_point = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(mount_point.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { mount_point })
    }

    fn path(&self) -> &Path {
        self.mount_point.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.mount_point.path()).status();
    }
}

fn ints(n: i64) -> RecordBatch {
    let a: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
    RecordBatch::try_from_iter([("a", a)]).unwrap()
}

#[test]
fn full_tmpfs_gives_a_clear_error_and_removes_the_partial_file() {
    let Some(fs) = Tmpfs::mount("256k") else {
        eprintln!("cannot mount a tmpfs here (not root?); skipped");
        return;
    };
    let dir = SpillDir::new_in(fs.path()).unwrap();
    let mut w = dir.new_file("too big", ints(0).schema()).unwrap();
    let path = w.path().to_path_buf();
    // 8 MB of int64 into 256 KiB.
    let err = w.write(&ints(1 << 20)).unwrap_err();
    assert!(matches!(err, Error::Spill { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    assert!(text.contains("spill directory is full"), "{text}");
    assert!(text.contains("partial file was removed"), "{text}");
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // The space came back: a small file fits and reads back.
    let mut w = dir.new_file("small", ints(0).schema()).unwrap();
    w.write(&ints(1000)).unwrap();
    let file = w.finish().unwrap();
    let read: Vec<_> = file.read().unwrap().map(Result::unwrap).collect();
    assert_eq!(read, vec![ints(1000)]);
    drop(file);
    drop(dir);
}
