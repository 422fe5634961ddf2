//! Writing a file so that readers see the old content or the new one, never a mix,
//! and so that the new content survives a crash once the call returns.
//!
//! Shared by both halves (see `lib.rs`): the charm writes the engine config and the
//! systemd unit with it, the engine its state file. It lives at the crate root so the
//! engine never imports from `charm`.
//!
//! The steps, and why each is needed (POSIX.1-2017 `rename()`, `fsync()`):
//! 1. write a temporary file in the target's own directory (`rename` is atomic only
//!    within one file system);
//! 2. set its mode before anything else can read it (a file holding `vrrp_password`
//!    is never readable by others, not even for a moment);
//! 3. `fsync` it, so the rename cannot become durable before the data does (else a
//!    crash can leave an empty file under the target's name);
//! 4. `rename` it over the target: readers see either file, atomically;
//! 5. `fsync` the directory, so the rename itself is durable.
//!
//! On failure the temporary file is removed and the old target is left as it was.
//!
//! [`replace_atomic`] skips the two `fsync`s, for a runtime file that a crash makes
//! meaningless anyway (the engine's state file on `/run`, a tmpfs, rewritten every
//! 2 s): readers still see one whole file or the other. On a disk-backed directory the
//! two `fsync`s were most of the idle engine's CPU time (`make bench-footprint`).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Writes `content` to `path` atomically and durably with permission bits `mode`
/// (see the module doc). Creates the parent directories if needed.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    write(path, content, mode, true)
}

/// Like [`write_atomic`], atomic for readers but not durable: no `fsync` (see the
/// module doc).
pub fn replace_atomic(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    write(path, content, mode, false)
}

fn write(path: &Path, content: &[u8], mode: u32, durable: bool) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        Some(_) => Path::new("."),
        None => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "path has no parent",
            ))
        }
    };
    fs::create_dir_all(dir)?;
    let tmp = temp_path(dir, path)?;
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed the mode; a stale temp file kept its own.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(content)?;
        if durable {
            file.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        if durable {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `.<name>.tmp.<pid>` beside the target: hidden, and unique per process, so two
/// processes writing the same file never share a temporary file.
fn temp_path(dir: &Path, path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    Ok(dir.join(format!(
        ".{}.tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn names_in(dir: &Path) -> Vec<std::ffi::OsString> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn creates_the_directories_and_replaces_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file.conf");
        write_atomic(&path, b"one", 0o644).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        let inode = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap());
        write_atomic(&path, b"two", 0o644).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        // A new file was renamed over the old one: readers holding the old file
        // descriptor keep the old content, never a mix.
        assert_ne!(
            std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap()),
            inode
        );
    }

    #[test]
    fn no_temporary_file_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"{}", 0o644).unwrap();
        write_atomic(&path, b"{\"a\":1}", 0o644).unwrap();
        assert_eq!(
            names_in(dir.path()),
            vec![std::ffi::OsString::from("state.json")]
        );
    }

    #[test]
    fn the_mode_is_the_one_asked_for_whatever_the_umask_or_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.conf");
        write_atomic(&path, b"pw", 0o600).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        write_atomic(&path, b"public", 0o644).unwrap();
        assert_eq!(mode_of(&path), 0o644);
        write_atomic(&path, b"pw", 0o600).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        // A stale temporary file of this process (a crash mid-write) with a wider
        // mode does not widen the new file.
        let stale = temp_path(dir.path(), &path).unwrap();
        fs::write(&stale, b"stale").unwrap();
        fs::set_permissions(&stale, fs::Permissions::from_mode(0o666)).unwrap();
        write_atomic(&path, b"pw2", 0o600).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(fs::read(&path).unwrap(), b"pw2");
        assert!(!stale.exists());
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keepalived.conf");
        write_atomic(&path, b"old", 0o644).unwrap();
        // Root ignores permission bits, so provoke the failure another way: a
        // directory where the temporary file must be created.
        let blocker = temp_path(dir.path(), &path).unwrap();
        fs::create_dir(&blocker).unwrap();
        fs::write(blocker.join("x"), b"x").unwrap();
        assert!(write_atomic(&path, b"new", 0o644).is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(mode_of(&path), 0o644);
    }

    #[test]
    fn a_failed_rename_removes_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // rename(2) cannot replace a non-empty directory (EISDIR/ENOTEMPTY).
        let target = dir.path().join("occupied");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), b"x").unwrap();
        assert!(write_atomic(&target, b"new", 0o644).is_err());
        assert_eq!(fs::read(target.join("x")).unwrap(), b"x");
        assert_eq!(
            names_in(dir.path()),
            vec![std::ffi::OsString::from("occupied")]
        );
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        assert_eq!(
            write_atomic(Path::new("/"), b"x", 0o644)
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
