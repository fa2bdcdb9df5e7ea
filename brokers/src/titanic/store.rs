//! The store: the journal, the index of open requests in memory, the
//! fsync policy and the limits.
//!
//! # Fsync policy ([`Fsync`])
//!
//! Every record goes through one committer greenlet, which writes and
//! `fdatasync`s on the thread pool (the hub keeps serving meanwhile).
//! A caller's `request`/`reply`/`close` returns only after the sync of
//! its record returned, so a `200` is never sent for a record that is
//! not on disk.
//!
//! - [`Fsync::Always`]: one write and one sync per record.
//! - [`Fsync::Group`]: every record that arrived while the previous sync
//!   ran goes into the next write and sync, at most `max_records`
//!   (default [`DEFAULT_GROUP_RECORDS`]) at once. Bound: a record waits
//!   for at most the sync in progress plus `ceil(queued / max_records)`
//!   syncs; there is no timer that delays a lone record.
//!
//! # Limits (memory follows bytes received)
//!
//! | limit | default | beyond it |
//! |---|---|---|
//! | [`Limits::max_request_bytes`]: service name + body of one request | 1 MiB | `titanic.request` answers `500` (refused, not stored) |
//! | [`Limits::max_reply_bytes`]: one reply body | 1 MiB | the reply is not stored; the request stays pending and is dispatched again later |
//! | [`Limits::max_open`]: requests stored and not closed | 100 000 | `500` (refused) |
//! | [`Limits::max_memory_bytes`]: bytes of open requests and replies held (each request also held once in the journal) | 256 MiB | `500` (refused) |
//! | [`Limits::compact_min_bytes`]: compaction only above this journal size | 4 MiB | - |
//!
//! Compaction runs after a commit when the journal is larger than
//! `compact_min_bytes` and the records of open requests take less than
//! half of it (closed entries dominate). While it writes the new file it
//! holds a copy of the open requests and replies (at most
//! `max_memory_bytes` more), and new records wait for it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use uuid::Uuid;
use zgreen::queue::Queue;
use zgreen::sync::{AsyncResult, Event};

use super::journal::{ErrorKind, Journal, JournalError, Recovered};
use super::record::Record;
use crate::frames::Frames;

/// Records in one group commit, by default.
pub const DEFAULT_GROUP_RECORDS: usize = 256;

/// When records are synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// One write and `fdatasync` per record.
    Always,
    /// One write and `fdatasync` for every record queued meanwhile, at
    /// most `max_records` of them.
    Group {
        /// Most records in one commit.
        max_records: usize,
    },
}

/// The store's byte and count bounds (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request (service name plus body frames), in bytes.
    pub max_request_bytes: usize,
    /// Largest reply body, in bytes.
    pub max_reply_bytes: usize,
    /// Most open (not closed) requests.
    pub max_open: usize,
    /// Most bytes of open requests and replies in memory.
    pub max_memory_bytes: usize,
    /// Smallest journal that compaction considers, in bytes.
    pub compact_min_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 1 << 20,
            max_reply_bytes: 1 << 20,
            max_open: 100_000,
            max_memory_bytes: 256 << 20,
            compact_min_bytes: 4 << 20,
        }
    }
}

/// Why the store did not take a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The disk refused it (the journal's error).
    Journal(JournalError),
    /// A limit was reached: the reason.
    Limit(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Journal(e) => write!(f, "not stored: {e}"),
            StoreError::Limit(why) => write!(f, "refused: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// What `titanic.reply` finds for an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The stored reply.
    Reply(Frames),
    /// Stored, not answered yet.
    Pending,
    /// Not known (never stored, or closed).
    Unknown,
}

/// Counters of what the store did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Records committed.
    pub records: u64,
    /// Write + sync calls.
    pub syncs: u64,
    /// Records whose commit failed.
    pub failed: u64,
    /// Compactions done.
    pub compactions: u64,
}

#[derive(Debug)]
struct Entry {
    service: Vec<u8>,
    body: Frames,
    reply: Option<Frames>,
    /// Journal bytes of its request and reply records.
    disk_bytes: u64,
}

impl Entry {
    fn memory(&self) -> usize {
        bytes(&self.body) + self.service.len() + self.reply.as_ref().map_or(0, |r| bytes(r))
    }
}

fn bytes(frames: &[Vec<u8>]) -> usize {
    frames.iter().map(Vec::len).sum()
}

type Done = AsyncResult<Result<(), StoreError>>;

#[derive(Debug)]
struct Pending {
    record: Record,
    done: Done,
}

#[derive(Debug)]
struct Inner {
    entries: HashMap<Uuid, Entry>,
    pending: Vec<Pending>,
    /// Bytes of the requests waiting in `pending`.
    pending_bytes: usize,
    /// `None` while a commit or compaction has it on the thread pool.
    journal: Option<Journal>,
    memory_bytes: usize,
    /// Journal bytes of the records of open entries.
    live_bytes: u64,
    stats: StoreStats,
}

/// The store, shared by the greenlets of one titanic process (a cheap
/// `Rc` handle).
#[derive(Clone, Debug)]
pub struct Store {
    inner: Rc<RefCell<Inner>>,
    kick: Event,
    /// Ids of stored requests without a reply, for the dispatcher.
    dispatch: Queue<Uuid>,
    fsync: Fsync,
    limits: Limits,
}

/// What opening the store found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Records replayed.
    pub records: usize,
    /// Requests open (not closed).
    pub open: usize,
    /// Open requests without a reply (queued for dispatch).
    pub pending: usize,
    /// Bytes dropped from a torn tail.
    pub dropped_bytes: u64,
    /// Why, if any were.
    pub torn: Option<String>,
    /// The journal's path.
    pub path: PathBuf,
}

impl Store {
    /// Opens the journal in `dir` and replays it. Call
    /// [`run_committer`](Self::run_committer) in a greenlet before storing.
    pub fn open(
        dir: &std::path::Path,
        fsync: Fsync,
        limits: Limits,
    ) -> Result<(Store, Opened), JournalError> {
        let Recovered {
            journal,
            records,
            dropped_bytes,
            torn,
        } = Journal::open(dir)?;
        let mut inner = Inner {
            entries: HashMap::new(),
            pending: Vec::new(),
            pending_bytes: 0,
            journal: None,
            memory_bytes: 0,
            live_bytes: 0,
            stats: StoreStats::default(),
        };
        let count = records.len();
        for r in records {
            let n = r.encode().len() as u64;
            inner.apply(r, n);
        }
        let dispatch = Queue::new();
        let mut pending = 0;
        for (uuid, e) in &inner.entries {
            if e.reply.is_none() {
                pending += 1;
                let _ = dispatch.try_put(*uuid);
            }
        }
        let opened = Opened {
            records: count,
            open: inner.entries.len(),
            pending,
            dropped_bytes,
            torn: torn.map(|t| t.to_string()),
            path: journal.path().to_path_buf(),
        };
        inner.journal = Some(journal);
        Ok((
            Store {
                inner: Rc::new(RefCell::new(inner)),
                kick: Event::new(),
                dispatch,
                fsync,
                limits,
            },
            opened,
        ))
    }

    /// Stores a request for `service`; its id once it is on disk.
    pub fn request(&self, service: Vec<u8>, body: Frames) -> zgreen::Result<Result<Uuid, StoreError>> {
        let size = service.len() + bytes(&body);
        {
            let inner = self.inner.borrow();
            let refuse = if size > self.limits.max_request_bytes {
                Some(format!(
                    "request of {size} bytes, over the limit of {} (--max-request-bytes)",
                    self.limits.max_request_bytes
                ))
            } else if inner.entries.len() + inner.pending.len() >= self.limits.max_open {
                Some(format!(
                    "{} open requests, the limit (--max-open)",
                    self.limits.max_open
                ))
            } else if inner.memory_bytes + inner.pending_bytes + size > self.limits.max_memory_bytes {
                Some(format!(
                    "open requests hold {} bytes, the limit is {} (--max-memory-bytes)",
                    inner.memory_bytes + inner.pending_bytes,
                    self.limits.max_memory_bytes
                ))
            } else {
                None
            };
            if let Some(why) = refuse {
                return Ok(Err(StoreError::Limit(why)));
            }
        }
        let uuid = Uuid::new_v4();
        self.inner.borrow_mut().pending_bytes += size;
        let r = self.commit(Record::Request { uuid, service, body });
        self.inner.borrow_mut().pending_bytes -= size;
        Ok(r?.map(|_| uuid))
    }

    /// Stores the reply of `uuid` (nothing happens if it is closed or
    /// already answered).
    pub fn reply(&self, uuid: Uuid, body: Frames) -> zgreen::Result<Result<(), StoreError>> {
        let size = bytes(&body);
        if size > self.limits.max_reply_bytes {
            return Ok(Err(StoreError::Limit(format!(
                "reply of {size} bytes, over the limit of {} (--max-reply-bytes)",
                self.limits.max_reply_bytes
            ))));
        }
        if !matches!(self.lookup(uuid), Lookup::Pending) {
            return Ok(Ok(()));
        }
        self.commit(Record::Reply { uuid, body })
    }

    /// Closes `uuid`: once this returns `Ok`, the request is forgotten
    /// for good (closing an unknown id does nothing).
    pub fn close(&self, uuid: Uuid) -> zgreen::Result<Result<(), StoreError>> {
        if !self.inner.borrow().entries.contains_key(&uuid) {
            return Ok(Ok(()));
        }
        self.commit(Record::Close { uuid })
    }

    /// What is stored for `uuid`.
    pub fn lookup(&self, uuid: Uuid) -> Lookup {
        match self.inner.borrow().entries.get(&uuid) {
            Some(Entry { reply: Some(r), .. }) => Lookup::Reply(r.clone()),
            Some(_) => Lookup::Pending,
            None => Lookup::Unknown,
        }
    }

    /// Waits for the next stored request without a reply: its id,
    /// service and body. Ids closed or answered meanwhile are skipped.
    pub fn next_to_dispatch(&self) -> zgreen::Result<(Uuid, Vec<u8>, Frames)> {
        loop {
            let uuid = self.dispatch.get()?;
            let inner = self.inner.borrow();
            if let Some(e) = inner.entries.get(&uuid)
                && e.reply.is_none()
            {
                return Ok((uuid, e.service.clone(), e.body.clone()));
            }
        }
    }

    /// Queues `uuid` for dispatch again (its reply could not be stored).
    pub fn redispatch(&self, uuid: Uuid) {
        let _ = self.dispatch.try_put(uuid);
    }

    /// Open requests, and those of them without a reply.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.inner.borrow();
        let pending = inner.entries.values().filter(|e| e.reply.is_none()).count();
        (inner.entries.len(), pending)
    }

    /// What the store did so far.
    pub fn stats(&self) -> StoreStats {
        self.inner.borrow().stats.clone()
    }

    fn commit(&self, record: Record) -> zgreen::Result<Result<(), StoreError>> {
        let done = Done::new();
        self.inner.borrow_mut().pending.push(Pending {
            record,
            done: done.clone(),
        });
        self.kick.set();
        done.get()
    }

    /// The committer: writes and syncs what is pending, as the fsync
    /// policy says, applies it to the index, answers the waiters, and
    /// compacts when closed entries dominate. Runs until killed.
    pub fn run_committer(&self) -> zgreen::Result<()> {
        loop {
            while self.inner.borrow().pending.is_empty() {
                self.kick.wait()?;
                self.kick.clear();
            }
            let (batch, journal) = {
                let mut inner = self.inner.borrow_mut();
                let n = match self.fsync {
                    Fsync::Always => 1,
                    Fsync::Group { max_records } => max_records.max(1),
                }
                .min(inner.pending.len());
                let batch: Vec<Pending> = inner.pending.drain(..n).collect();
                (batch, inner.journal.take())
            };
            let Some(mut journal) = journal else {
                // Cannot happen: only this greenlet takes the journal.
                for p in batch {
                    p.done.set(Err(StoreError::Limit("the journal is busy".into())));
                }
                continue;
            };
            let mut buf = Vec::new();
            let mut sizes = Vec::with_capacity(batch.len());
            for p in &batch {
                let before = buf.len();
                p.record.encode_into(&mut buf);
                sizes.push((buf.len() - before) as u64);
            }
            let (journal, result) = zgreen::threadpool::apply(move || {
                let r = journal.append(&buf);
                (journal, r)
            })?;
            let mut inner = self.inner.borrow_mut();
            inner.journal = Some(journal);
            inner.stats.syncs += 1;
            match result {
                Ok(()) => {
                    inner.stats.records += batch.len() as u64;
                    for (p, n) in batch.into_iter().zip(sizes) {
                        if let Some(uuid) = inner.apply(p.record, n) {
                            let _ = self.dispatch.try_put(uuid);
                        }
                        p.done.set(Ok(()));
                    }
                }
                Err(e) => {
                    inner.stats.failed += batch.len() as u64;
                    tracing::error!(records = batch.len(), kind = ?e.kind, "journal commit failed, nothing of it stored: {e}");
                    for p in batch {
                        p.done.set(Err(StoreError::Journal(e.clone())));
                    }
                }
            }
            drop(inner);
            self.maybe_compact()?;
        }
    }

    fn maybe_compact(&self) -> zgreen::Result<()> {
        let (journal, snapshot, live) = {
            let mut inner = self.inner.borrow_mut();
            let Some(len) = inner.journal.as_ref().map(Journal::len) else {
                return Ok(());
            };
            if len < self.limits.compact_min_bytes || inner.live_bytes * 2 >= len {
                return Ok(());
            }
            let mut snapshot = Vec::with_capacity(inner.entries.len() * 2);
            for (uuid, e) in &inner.entries {
                snapshot.push(Record::Request {
                    uuid: *uuid,
                    service: e.service.clone(),
                    body: e.body.clone(),
                });
                if let Some(r) = &e.reply {
                    snapshot.push(Record::Reply {
                        uuid: *uuid,
                        body: r.clone(),
                    });
                }
            }
            let live = inner.live_bytes;
            (inner.journal.take().expect("checked"), snapshot, live)
        };
        let started = Instant::now();
        let before = journal.len();
        let (journal, result) = zgreen::threadpool::apply(move || {
            let mut journal = journal;
            let r = journal.rewrite(&snapshot);
            (journal, r)
        })?;
        let mut inner = self.inner.borrow_mut();
        match result {
            Ok(()) => {
                inner.stats.compactions += 1;
                tracing::info!(
                    before_bytes = before,
                    after_bytes = journal.len(),
                    live_bytes = live,
                    ms = started.elapsed().as_millis() as u64,
                    "journal compacted"
                );
            }
            Err(e) if e.kind == ErrorKind::Other => tracing::error!("journal compaction failed: {e}"),
            Err(e) => tracing::warn!("journal compaction failed (the old journal stays): {e}"),
        }
        inner.journal = Some(journal);
        Ok(())
    }
}

impl Inner {
    /// Applies a committed record of `n` journal bytes; returns the id of
    /// a new request to dispatch.
    fn apply(&mut self, record: Record, n: u64) -> Option<Uuid> {
        match record {
            Record::Request { uuid, service, body } => {
                let e = Entry {
                    service,
                    body,
                    reply: None,
                    disk_bytes: n,
                };
                self.memory_bytes += e.memory();
                self.live_bytes += n;
                if let Some(old) = self.entries.insert(uuid, e) {
                    self.memory_bytes -= old.memory();
                    self.live_bytes -= old.disk_bytes;
                }
                Some(uuid)
            }
            Record::Reply { uuid, body } => {
                if let Some(e) = self.entries.get_mut(&uuid)
                    && e.reply.is_none()
                {
                    self.memory_bytes += bytes(&body);
                    self.live_bytes += n;
                    e.disk_bytes += n;
                    e.reply = Some(body);
                }
                None
            }
            Record::Close { uuid } => {
                if let Some(e) = self.entries.remove(&uuid) {
                    self.memory_bytes -= e.memory();
                    self.live_bytes -= e.disk_bytes;
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        zgreen_harness::fresh_temp_dir("zgreen-store", name)
    }

    fn open(
        dir: &std::path::Path,
        fsync: Fsync,
        limits: Limits,
    ) -> (Store, Opened, zgreen::Greenlet<zgreen::Result<()>>) {
        let (store, opened) = Store::open(dir, fsync, limits).unwrap();
        let s = store.clone();
        let g = zgreen::spawn(move || s.run_committer());
        (store, opened, g)
    }

    #[test]
    fn request_reply_close_survive_a_reopen() {
        let dir = tmpdir("life");
        let (store, opened, g) = open(&dir, Fsync::Always, Limits::default());
        assert_eq!(opened.records, 0);
        let a = store
            .request(b"echo".to_vec(), vec![b"a".to_vec()])
            .unwrap()
            .unwrap();
        let b = store
            .request(b"echo".to_vec(), vec![b"b".to_vec()])
            .unwrap()
            .unwrap();
        let c = store
            .request(b"echo".to_vec(), vec![b"c".to_vec()])
            .unwrap()
            .unwrap();
        assert_eq!(store.lookup(a), Lookup::Pending);
        let (first, service, body) = store.next_to_dispatch().unwrap();
        assert_eq!((first, service, body), (a, b"echo".to_vec(), vec![b"a".to_vec()]));
        store.reply(a, vec![b"A".to_vec()]).unwrap().unwrap();
        store.reply(b, vec![b"B".to_vec()]).unwrap().unwrap();
        store.close(b).unwrap().unwrap();
        assert_eq!(store.lookup(a), Lookup::Reply(vec![b"A".to_vec()]));
        assert_eq!(store.lookup(b), Lookup::Unknown);
        g.kill().unwrap();
        drop(store);
        let (store, opened, g) = open(&dir, Fsync::Always, Limits::default());
        assert_eq!((opened.records, opened.open, opened.pending), (6, 2, 1));
        assert_eq!(store.lookup(a), Lookup::Reply(vec![b"A".to_vec()]));
        assert_eq!(store.lookup(b), Lookup::Unknown);
        assert_eq!(store.lookup(c), Lookup::Pending);
        assert_eq!(
            store.next_to_dispatch().unwrap().0,
            c,
            "the pending one is dispatched again"
        );
        g.kill().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn group_commit_syncs_many_records_at_once() {
        let dir = tmpdir("group");
        let (store, _, g) = open(&dir, Fsync::Group { max_records: 64 }, Limits::default());
        let gs: Vec<_> = (0..200u32)
            .map(|i| {
                let s = store.clone();
                zgreen::spawn(move || s.request(b"echo".to_vec(), vec![i.to_be_bytes().to_vec()]))
            })
            .collect();
        zgreen::joinall(&gs).unwrap();
        for x in &gs {
            x.take().unwrap().unwrap().unwrap();
        }
        let stats = store.stats();
        assert_eq!(stats.records, 200);
        assert!(stats.syncs <= 200 / 2, "{stats:?}");
        assert!(stats.syncs >= 200 / 64, "at most 64 a batch: {stats:?}");
        g.kill().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn closed_entries_are_compacted_away() {
        let dir = tmpdir("compact");
        let limits = Limits {
            compact_min_bytes: 4096,
            ..Limits::default()
        };
        let (store, _, g) = open(&dir, Fsync::Group { max_records: 16 }, limits);
        let keep = store
            .request(b"echo".to_vec(), vec![b"keep".to_vec()])
            .unwrap()
            .unwrap();
        for i in 0..200u32 {
            let u = store
                .request(b"echo".to_vec(), vec![vec![i as u8; 100]])
                .unwrap()
                .unwrap();
            store.close(u).unwrap().unwrap();
        }
        assert!(store.stats().compactions >= 1, "{:?}", store.stats());
        let len = std::fs::metadata(dir.join(super::super::journal::FILE_NAME))
            .unwrap()
            .len();
        assert!(len < 8192, "compacted to {len} bytes");
        g.kill().unwrap();
        drop(store);
        let (store, opened, g) = open(&dir, Fsync::Always, limits);
        assert_eq!(opened.open, 1);
        assert_eq!(store.lookup(keep), Lookup::Pending);
        g.kill().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn limits_refuse_without_storing() {
        let dir = tmpdir("limits");
        let limits = Limits {
            max_request_bytes: 10,
            max_open: 2,
            ..Limits::default()
        };
        let (store, _, g) = open(&dir, Fsync::Always, limits);
        let big = store.request(b"echo".to_vec(), vec![vec![0; 7]]).unwrap();
        assert!(
            matches!(big, Err(StoreError::Limit(ref why)) if why.contains("--max-request-bytes")),
            "{big:?}"
        );
        store.request(b"echo".to_vec(), vec![]).unwrap().unwrap();
        store.request(b"echo".to_vec(), vec![]).unwrap().unwrap();
        let full = store.request(b"echo".to_vec(), vec![]).unwrap();
        assert!(
            matches!(full, Err(StoreError::Limit(ref why)) if why.contains("--max-open")),
            "{full:?}"
        );
        assert_eq!(store.stats().records, 2);
        g.kill().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
