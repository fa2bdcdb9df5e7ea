//! The append-only journal file: recovery, appends with fsync, and
//! compaction. Synchronous file I/O; the [`store`](super::store) runs it
//! on the thread pool so the hub never waits for the disk.
//!
//! # Crash safety
//!
//! - A batch of records is written with one `pwrite` at the end of the
//!   valid data and then made durable with `fdatasync`; a request is
//!   acknowledged only after that returns.
//! - A crash can leave a torn batch at the tail. [`Journal::open`] reads
//!   records until the first one that does not decode whole (cut short,
//!   wrong CRC-32, bad payload: [`Torn`]), truncates the file there,
//!   syncs it, and reports what it dropped. A torn record is never
//!   returned.
//! - A failed write or sync (disk full `ENOSPC`, file too large `EFBIG`
//!   under `RLIMIT_FSIZE`, permissions) truncates the file back to the
//!   last good length, so the next batch never follows garbage, and the
//!   error goes to every waiter of the batch. If even the truncation
//!   fails, the journal refuses every later append ([`ErrorKind::Broken`]).
//! - Compaction writes the live records to `titanic.journal.compact`,
//!   syncs it, renames it over `titanic.journal`, and syncs the
//!   directory: a crash at any point leaves either the old or the new
//!   file, both whole.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{MAGIC, Record, Torn, decode_next};

/// The journal's file name inside its directory.
pub const FILE_NAME: &str = "titanic.journal";
const COMPACT_NAME: &str = "titanic.journal.compact";

/// What went wrong with the disk, in the categories an operator acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No space left (`ENOSPC`, `EDQUOT`).
    DiskFull,
    /// The file would exceed the process's file-size limit (`EFBIG`,
    /// `RLIMIT_FSIZE`).
    FileTooLarge,
    /// Not allowed (`EACCES`, `EPERM`, `EROFS`).
    Permission,
    /// The file is not a journal of this format.
    NotAJournal,
    /// A failed write could not be undone: no more appends.
    Broken,
    /// Any other I/O error.
    Other,
}

/// A journal error: its kind and a message naming the file and the
/// operation. Cloneable, so one failed batch can fail all its waiters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalError {
    /// The category.
    pub kind: ErrorKind,
    /// What failed, with the path and the system's words.
    pub message: String,
}

impl JournalError {
    fn io(op: &str, path: &Path, e: &io::Error) -> JournalError {
        let kind = match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => ErrorKind::DiskFull,
            Some(libc::EFBIG) => ErrorKind::FileTooLarge,
            Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => ErrorKind::Permission,
            _ => ErrorKind::Other,
        };
        let hint = match kind {
            ErrorKind::DiskFull => " (disk full)",
            ErrorKind::FileTooLarge => " (file size limit reached)",
            ErrorKind::Permission => " (permission denied)",
            _ => "",
        };
        JournalError {
            kind,
            message: format!("{op} {}: {e}{hint}", path.display()),
        }
    }
}

impl std::fmt::Display for JournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JournalError {}

/// An open journal, positioned after its last good record.
#[derive(Debug)]
pub struct Journal {
    file: File,
    dir: PathBuf,
    path: PathBuf,
    /// Length of the valid data: the next batch is written here.
    len: u64,
    broken: bool,
}

/// What [`Journal::open`] found.
#[derive(Debug)]
pub struct Recovered {
    /// The journal, ready for appends.
    pub journal: Journal,
    /// Every whole record, in file order.
    pub records: Vec<Record>,
    /// Bytes dropped from the tail (0 for a clean file).
    pub dropped_bytes: u64,
    /// Why the tail was dropped, if it was.
    pub torn: Option<Torn>,
}

impl Journal {
    /// Opens (or creates) the journal in `dir` (created if missing),
    /// reads every whole record, and drops a torn tail (truncating the
    /// file and syncing it).
    pub fn open(dir: &Path) -> Result<Recovered, JournalError> {
        std::fs::create_dir_all(dir).map_err(|e| JournalError::io("cannot create", dir, &e))?;
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| JournalError::io("cannot open", &path, &e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| JournalError::io("cannot read", &path, &e))?;
        let mut journal = Journal {
            file,
            dir: dir.to_path_buf(),
            path,
            len: 0,
            broken: false,
        };
        if bytes.len() < MAGIC.len() {
            // New, or the magic itself was torn at creation.
            if !MAGIC.starts_with(&bytes) {
                return Err(journal.not_a_journal());
            }
            journal.truncate(0)?;
            journal.append(MAGIC)?;
            journal.sync_dir()?;
            return Ok(Recovered {
                journal,
                records: Vec::new(),
                dropped_bytes: bytes.len() as u64,
                torn: None,
            });
        }
        if &bytes[..MAGIC.len()] != MAGIC {
            return Err(journal.not_a_journal());
        }
        let mut at = MAGIC.len();
        let mut records = Vec::new();
        let mut torn = None;
        while at < bytes.len() {
            match decode_next(&bytes[at..]) {
                Ok((record, used)) => {
                    records.push(record);
                    at += used;
                }
                Err(t) => {
                    torn = Some(t);
                    break;
                }
            }
        }
        let dropped_bytes = (bytes.len() - at) as u64;
        journal.len = at as u64;
        if dropped_bytes > 0 {
            journal.truncate(at as u64)?;
        }
        Ok(Recovered {
            journal,
            records,
            dropped_bytes,
            torn,
        })
    }

    fn not_a_journal(&self) -> JournalError {
        JournalError {
            kind: ErrorKind::NotAJournal,
            message: format!(
                "{} is not a titanic journal (it does not start with {:?}): refusing to touch it",
                self.path.display(),
                String::from_utf8_lossy(MAGIC)
            ),
        }
    }

    /// The journal file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of valid data (the magic included).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the journal holds no record.
    pub fn is_empty(&self) -> bool {
        self.len <= MAGIC.len() as u64
    }

    fn truncate(&mut self, len: u64) -> Result<(), JournalError> {
        self.file
            .set_len(len)
            .and_then(|_| self.file.sync_all())
            .map_err(|e| JournalError::io("cannot truncate", &self.path, &e))?;
        self.len = len;
        Ok(())
    }

    fn sync_dir(&self) -> Result<(), JournalError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| JournalError::io("cannot sync the directory", &self.dir, &e))
    }

    /// Writes `bytes` (whole encoded records) after the valid data and
    /// syncs them (`fdatasync`). On an error the file is cut back to its
    /// previous length and nothing of `bytes` counts as written.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), JournalError> {
        if self.broken {
            return Err(JournalError {
                kind: ErrorKind::Broken,
                message: format!(
                    "{}: an earlier failed write could not be undone; restart to recover",
                    self.path.display()
                ),
            });
        }
        let result = self
            .file
            .write_all_at(bytes, self.len)
            .map_err(|e| JournalError::io("cannot write", &self.path, &e))
            .and_then(|_| {
                self.file
                    .sync_data()
                    .map_err(|e| JournalError::io("cannot sync", &self.path, &e))
            });
        match result {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let good = self.len;
                if self.truncate(good).is_err() {
                    self.broken = true;
                }
                Err(e)
            }
        }
    }

    /// Replaces the journal with one holding exactly `records` (write a
    /// new file, sync it, rename it over the journal, sync the
    /// directory). On an error the old journal stays as it was.
    pub fn rewrite<'a>(&mut self, records: impl IntoIterator<Item = &'a Record>) -> Result<(), JournalError> {
        let tmp = self.dir.join(COMPACT_NAME);
        let mut bytes = MAGIC.to_vec();
        for r in records {
            r.encode_into(&mut bytes);
        }
        let written = File::create(&tmp)
            .and_then(|f| {
                f.write_all_at(&bytes, 0)?;
                f.sync_all()?;
                Ok(f)
            })
            .map_err(|e| JournalError::io("cannot write", &tmp, &e));
        let file = match written.and_then(|f| {
            std::fs::rename(&tmp, &self.path)
                .map(|_| f)
                .map_err(|e| JournalError::io("cannot rename over", &self.path, &e))
        }) {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        // The renamed file is the journal now, whatever the directory sync
        // says; a failed sync is reported but the handle is kept.
        self.file = file;
        self.len = bytes.len() as u64;
        self.sync_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn tmpdir(name: &str) -> PathBuf {
        zgreen_harness::fresh_temp_dir("zgreen-journal", name)
    }

    fn req(n: u128) -> Record {
        Record::Request {
            uuid: Uuid::from_u128(n),
            service: b"echo".to_vec(),
            body: vec![n.to_be_bytes().to_vec()],
        }
    }

    #[test]
    fn records_survive_a_reopen() {
        let dir = tmpdir("reopen");
        let mut j = Journal::open(&dir).unwrap().journal;
        let rs: Vec<_> = (0..10).map(req).collect();
        for r in &rs {
            j.append(&r.encode()).unwrap();
        }
        drop(j);
        let rec = Journal::open(&dir).unwrap();
        assert_eq!(rec.records, rs);
        assert_eq!(rec.dropped_bytes, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_tail_is_dropped_and_appends_continue_after_it() {
        let dir = tmpdir("torn");
        let mut j = Journal::open(&dir).unwrap().journal;
        j.append(&req(1).encode()).unwrap();
        let good = j.len();
        j.append(&req(2).encode()).unwrap();
        drop(j);
        let path = dir.join(FILE_NAME);
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(good + 5).unwrap();
        let rec = Journal::open(&dir).unwrap();
        assert_eq!(rec.records, vec![req(1)]);
        assert_eq!(rec.dropped_bytes, 5);
        assert_eq!(rec.torn, Some(Torn::ShortHeader));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        let mut j = rec.journal;
        j.append(&req(3).encode()).unwrap();
        drop(j);
        assert_eq!(Journal::open(&dir).unwrap().records, vec![req(1), req(3)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_foreign_file_is_refused_not_truncated() {
        let dir = tmpdir("foreign");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), b"hello, this is not a journal").unwrap();
        let e = Journal::open(&dir).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotAJournal);
        assert_eq!(std::fs::read(dir.join(FILE_NAME)).unwrap().len(), 28);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rewrite_keeps_only_the_given_records() {
        let dir = tmpdir("rewrite");
        let mut j = Journal::open(&dir).unwrap().journal;
        for n in 0..100 {
            j.append(&req(n).encode()).unwrap();
        }
        let before = j.len();
        let keep = vec![req(7), req(42)];
        j.rewrite(&keep).unwrap();
        assert!(j.len() < before);
        j.append(&req(100).encode()).unwrap();
        drop(j);
        assert_eq!(
            Journal::open(&dir).unwrap().records,
            vec![req(7), req(42), req(100)]
        );
        assert!(!dir.join(COMPACT_NAME).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_full_device_gives_disk_full_then_broken_when_the_cut_fails() {
        // /dev/full answers every write with ENOSPC, and cannot be
        // truncated: the journal reports the disk as full, then refuses
        // every later append instead of writing after unknown bytes.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut j = Journal {
            file,
            dir: PathBuf::from("/dev"),
            path: PathBuf::from("/dev/full"),
            len: MAGIC.len() as u64,
            broken: false,
        };
        let e = j.append(&req(1).encode()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::DiskFull, "{e}");
        assert!(e.message.contains("(disk full)"), "{e}");
        assert_eq!(j.len(), MAGIC.len() as u64, "nothing counted as written");
        let e = j.append(&req(2).encode()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Broken, "{e}");
    }

    #[test]
    fn system_errors_map_to_their_kinds() {
        let p = Path::new("/x");
        for (errno, kind) in [
            (libc::ENOSPC, ErrorKind::DiskFull),
            (libc::EDQUOT, ErrorKind::DiskFull),
            (libc::EFBIG, ErrorKind::FileTooLarge),
            (libc::EACCES, ErrorKind::Permission),
            (libc::EROFS, ErrorKind::Permission),
            (libc::EIO, ErrorKind::Other),
        ] {
            let e = JournalError::io("cannot write", p, &io::Error::from_raw_os_error(errno));
            assert_eq!(e.kind, kind, "{e}");
            assert!(e.message.starts_with("cannot write /x: "), "{e}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever the records and wherever the file is cut (or a byte
        /// of the tail is changed), recovery returns exactly the records
        /// that were whole before the damage, and appends go on after them.
        #[test]
        fn recovery_returns_the_whole_prefix(
            sizes in proptest::collection::vec(0usize..300, 1..12),
            cut_frac in 0.0f64..1.0,
            flip in proptest::option::of(0usize..8),
        ) {
            let dir = tmpdir(&format!("prop-{}", sizes.len()));
            let mut j = Journal::open(&dir).unwrap().journal;
            let mut ends = Vec::new();
            let rs: Vec<Record> = sizes.iter().enumerate().map(|(i, &n)| Record::Reply {
                uuid: Uuid::from_u128(i as u128),
                body: vec![vec![i as u8; n]],
            }).collect();
            for r in &rs {
                j.append(&r.encode()).unwrap();
                ends.push(j.len());
            }
            let total = j.len();
            drop(j);
            let path = dir.join(FILE_NAME);
            let cut = MAGIC.len() as u64 + ((total - MAGIC.len() as u64) as f64 * cut_frac) as u64;
            let f = OpenOptions::new().read(true).write(true).open(&path).unwrap();
            f.set_len(cut).unwrap();
            let mut whole = ends.iter().filter(|&&e| e <= cut).count();
            if let Some(bit) = flip {
                // Damage the last byte that is kept, inside a record.
                if cut > MAGIC.len() as u64 {
                    let mut b = [0u8];
                    f.read_at(&mut b, cut - 1).unwrap();
                    b[0] ^= 1 << bit;
                    f.write_all_at(&b, cut - 1).unwrap();
                    // The record holding that byte is no longer whole.
                    whole = ends.iter().filter(|&&e| e < cut).count();
                }
            }
            drop(f);
            let rec = Journal::open(&dir).unwrap();
            proptest::prop_assert_eq!(&rec.records[..], &rs[..whole]);
            let good = if whole == 0 { MAGIC.len() as u64 } else { ends[whole - 1] };
            proptest::prop_assert_eq!(rec.journal.len(), good);
            proptest::prop_assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
