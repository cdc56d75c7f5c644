//! Writing below an output folder without trusting what is already there: every folder below it
//! is opened relative to its parent with `O_NOFOLLOW` (a symbolic link planted there is refused,
//! never followed), files are created with `O_CREAT | O_EXCL | O_NOFOLLOW`, and what this creates
//! gets mode 0700 (folders) or 0600 (files), set explicitly whatever the umask.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

const FOLDER_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Why a path could not be used; the message names the local path (never a link).
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An open folder; everything below it is reached through this handle, not through a path.
#[derive(Debug)]
pub struct Folder {
    fd: OwnedFd,
    path: PathBuf,
}

impl Folder {
    /// The folder the user named: created with mode 0700 if missing; used as given if it exists
    /// (the user chose it, including through a link of their own).
    pub fn root(path: &Path) -> Result<Folder, Refused> {
        let refuse = |e: io::Error| Refused(format!("{}: {e}", path.display()));
        if std::fs::symlink_metadata(path).is_err() {
            std::fs::DirBuilder::new().recursive(true).mode(FOLDER_MODE).create(path).map_err(refuse)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(FOLDER_MODE)).map_err(refuse)?;
        }
        let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| refuse(e.into()))?;
        Ok(Folder { fd, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder `name` below this one, created (0700) if missing. A symbolic link, or anything
    /// but a folder, in its place is refused: nothing is ever written through it.
    pub fn child(&self, name: &str) -> Result<Folder, Refused> {
        let path = self.path.join(name);
        let created = match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(FOLDER_MODE)) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(e) => {
                return Err(Refused(format!("cannot create {}: {}", path.display(), io::Error::from(e))));
            }
        };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty())
            .map_err(|e| self.refusal(name, e, "a folder"))?;
        if created {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(FOLDER_MODE)).map_err(|e| {
                Refused(format!("cannot set the mode of {}: {}", path.display(), io::Error::from(e)))
            })?;
        }
        Ok(Folder { fd, path })
    }

    /// Opens the existing regular file `name` for reading; `None` if there is none. A symbolic
    /// link in its place is refused, not followed.
    pub fn open_existing(&self, name: &str) -> Result<Option<std::fs::File>, Refused> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => {
                let file = std::fs::File::from(fd);
                let is_file = file.metadata().map(|m| m.is_file()).unwrap_or(false);
                if is_file {
                    Ok(Some(file))
                } else {
                    Err(Refused(format!("refused: {} is not a regular file", self.path.join(name).display())))
                }
            }
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(self.refusal(name, e, "a file")),
        }
    }

    /// Creates `name` afresh (mode 0600): a stale entry of that name is removed first (removing a
    /// link removes the link, never its target), then the file is created with `O_EXCL |
    /// O_NOFOLLOW`, so if anything appears in between, creation fails instead of following it.
    pub fn create_new(&self, name: &str) -> Result<std::fs::File, Refused> {
        self.remove(name);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(FILE_MODE))
            .map_err(|e| self.refusal(name, e, "a new file"))?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(FILE_MODE)).map_err(|e| {
            Refused(format!(
                "cannot set the mode of {}: {}",
                self.path.join(name).display(),
                io::Error::from(e)
            ))
        })?;
        Ok(std::fs::File::from(fd))
    }

    /// Renames `from` to `to` inside this folder. If `to` is a link, the link is replaced; its
    /// target is untouched.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), Refused> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to).map_err(|e| {
            Refused(format!("cannot write {}: {}", self.path.join(to).display(), io::Error::from(e)))
        })
    }

    /// Removes the entry `name` if it is a file or a link (never a link's target).
    pub fn remove(&self, name: &str) {
        let _ = rustix::fs::unlinkat(&self.fd, name, AtFlags::empty());
    }

    fn refusal(&self, name: &str, error: Errno, wanted: &str) -> Refused {
        let path = self.path.join(name);
        let kind = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .map(|s| FileType::from_raw_mode(s.st_mode))
            .ok();
        match kind {
            Some(FileType::Symlink) => Refused(format!(
                "refused: {} is a symbolic link this tool did not create; nothing is written through it",
                path.display()
            )),
            _ if error == Errno::NOTDIR => {
                Refused(format!("refused: {} is in the way and is not {wanted}", path.display()))
            }
            _ => Refused(format!("cannot open {} as {wanted}: {}", path.display(), io::Error::from(error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ae-safe-fs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn what_it_creates_is_private_and_links_are_refused() {
        let base = scratch("modes");
        let root = Folder::root(&base.join("out")).unwrap();
        assert_eq!(std::fs::metadata(base.join("out")).unwrap().mode() & 0o777, 0o700);
        let sub = root.child("direct").unwrap();
        assert_eq!(std::fs::metadata(base.join("out/direct")).unwrap().mode() & 0o777, 0o700);
        use std::io::Write;
        sub.create_new("f").unwrap().write_all(b"x").unwrap();
        assert_eq!(std::fs::metadata(base.join("out/direct/f")).unwrap().mode() & 0o777, 0o600);

        let outside = base.join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, base.join("out/group")).unwrap();
        let why = root.child("group").unwrap_err().0;
        assert!(why.contains("symbolic link"), "{why}");
        std::os::unix::fs::symlink(outside.join("secret"), base.join("out/direct/g")).unwrap();
        assert!(sub.open_existing("g").unwrap_err().0.contains("symbolic link"));
        sub.create_new("g").unwrap();
        assert!(!outside.join("secret").exists(), "the link was replaced, not followed");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
