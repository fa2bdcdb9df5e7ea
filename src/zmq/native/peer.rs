//! One connected, handshaken peer: its codec, its bounded outbound queue
//! and the writer greenlet that drains it.
//!
//! # Writing
//!
//! A send to an idle peer (nothing queued, nothing half written, and the
//! writer idle since the last inline write) encodes the message and
//! writes it at once from the sending greenlet, without parking: the
//! latency path. Whatever the kernel does not take, and every message
//! sent before the writer has run again, is left to the writer greenlet,
//! which encodes up to [`BATCH_MSGS`] queued messages (or [`BATCH_BYTES`])
//! contiguously and writes them with one `sendmsg`: the throughput path. The queue holds at most the socket's SNDHWM messages, and the
//! codec at most one batch, so a peer that stops reading pins a bounded
//! amount of memory.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::rc::Rc;

use bytes::{Buf, Bytes, BytesMut};
use omq_proto::Message;
use omq_proto::proto::{Command, Connection};
use omq_proto::subscription::SubscriptionSet;

use super::wire::Wire;
use crate::error::Result;
use crate::hub::task::WaitQueue;

/// Messages the writer encodes into one batch, at most.
pub(super) const BATCH_MSGS: usize = 256;
/// Bytes the writer encodes into one batch, at most (one message more may
/// pass it).
pub(super) const BATCH_BYTES: usize = 256 * 1024;
/// Buffers handed to one `sendmsg`, at most.
const MAX_IOVECS: usize = 64;

/// A connected peer after its handshake.
pub(super) struct Peer {
    /// Unique in the socket for its life (never reused).
    pub(super) id: u64,
    /// The identity a ROUTER routes by: the peer's announced one, else a
    /// generated one (`0x00` then 4 bytes, as libzmq).
    pub(super) routing_id: Bytes,
    pub(super) wire: Wire,
    pub(super) conn: RefCell<Connection>,
    /// Messages waiting for the writer (at most SNDHWM).
    pub(super) out: RefCell<VecDeque<Message>>,
    /// A batch the writer encoded contiguously (header and body of each
    /// message, one after the other) and has not written whole yet. While
    /// it is not empty nothing else is written, so frames never interleave.
    pub(super) flat: RefCell<Bytes>,
    /// The writer parks here for work.
    pub(super) work: WaitQueue,
    /// A send may write inline: set by the writer when it goes idle,
    /// cleared by an inline write. So a greenlet that sends in a loop
    /// writes its first message at once and the rest queue until the
    /// writer runs (at the sender's next park or fairness yield) and
    /// writes them as one batch: inline when idle, batched under load.
    pub(super) inline_ok: Cell<bool>,
    /// False once the session ended: the writer finishes what is queued
    /// (bounded by LINGER) and exits.
    pub(super) alive: Cell<bool>,
    /// What this peer subscribed to (for PUB and XPUB).
    pub(super) subs: RefCell<SubscriptionSet>,
}

impl Peer {
    /// True if a message queued now would wait behind others.
    fn busy(&self) -> bool {
        !self.out.borrow().is_empty()
            || !self.flat.borrow().is_empty()
            || self.conn.borrow().has_pending_transmit()
    }

    /// Queues `msg` (or writes it at once if the peer is idle); hands it
    /// back if SNDHWM messages are already queued.
    pub(super) fn enqueue(&self, msg: Message, hwm: usize) -> std::result::Result<(), Message> {
        if !self.alive.get() {
            return Err(msg);
        }
        if self.inline_ok.get() && !self.busy() {
            if self.conn.borrow_mut().send_message(&msg).is_err() {
                return Err(msg);
            }
            self.inline_ok.set(false);
            self.flush_now();
            self.work.notify_one();
            return Ok(());
        }
        let mut out = self.out.borrow_mut();
        if out.len() >= hwm.max(1) {
            return Err(msg);
        }
        out.push_back(msg);
        drop(out);
        self.work.notify_one();
        Ok(())
    }

    /// True if a message would be taken now.
    pub(super) fn has_room(&self, hwm: usize) -> bool {
        self.alive.get() && self.out.borrow().len() < hwm.max(1)
    }

    /// Queues a command (SUBSCRIBE, CANCEL, PING); commands are not
    /// counted against SNDHWM.
    pub(super) fn command(&self, cmd: &Command) {
        if !self.alive.get() {
            return;
        }
        let idle = !self.busy();
        if self.conn.borrow_mut().send_command(cmd).is_ok() {
            if idle {
                self.flush_now();
            } else {
                self.work.notify_one();
            }
        }
    }

    /// Writes what the codec holds without parking; leaves the rest to the
    /// writer. Only while no flat batch is pending.
    pub(super) fn flush_now(&self) {
        let written = {
            let conn = self.conn.borrow();
            let chunks = conn.transmit_chunks_capped(MAX_IOVECS);
            if chunks.is_empty() {
                return;
            }
            self.wire.try_send_vectored(&chunks)
        };
        // A failed write is left to the writer, whose own write fails the
        // same way and ends the connection.
        if let Ok(n) = written {
            self.conn.borrow_mut().advance_transmit(n);
        }
        if self.conn.borrow().has_pending_transmit() {
            self.work.notify_one();
        }
    }

    /// Ends the connection: the reader sees end of file.
    pub(super) fn hang_up(&self) {
        self.alive.set(false);
        self.wire.shutdown();
        self.work.notify_all();
    }
}

/// The writer greenlet of one peer: encodes queued messages in batches and
/// writes them, until the session ended and everything queued is written
/// (a closing socket kills it when LINGER has passed). `room` is woken
/// after every batch taken from the queue (senders waiting for SNDHWM
/// room).
pub(super) fn writer(peer: Rc<Peer>, room: Rc<WaitQueue>) -> Result<()> {
    let result = write_loop(&peer, &room);
    // Done (everything written after the session ended) or failed: either
    // way the connection ends here, even while the socket still holds
    // the peer for its LINGER bookkeeping.
    peer.hang_up();
    peer.out.borrow_mut().clear();
    result
}

fn write_loop(peer: &Peer, room: &WaitQueue) -> Result<()> {
    let mut encode = BytesMut::new();
    loop {
        while !peer.busy() {
            if !peer.alive.get() {
                return Ok(());
            }
            peer.inline_ok.set(true);
            peer.work.wait(None)?;
        }
        // 1. The rest of a flat batch, 2. what the codec holds (commands,
        // PONGs, an inline write's remainder), 3. a new batch.
        if !peer.flat.borrow().is_empty() {
            let flat = peer.flat.borrow().clone();
            let n = peer.wire.send_vectored_deadline(&[IoSlice::new(&flat)], None)?;
            peer.flat.borrow_mut().advance(n);
            continue;
        }
        if peer.conn.borrow().has_pending_transmit() {
            let chunks = peer.conn.borrow().clone_transmit_chunks();
            let slices: Vec<IoSlice<'_>> = chunks.iter().take(MAX_IOVECS).map(|b| IoSlice::new(b)).collect();
            let n = peer.wire.send_vectored_deadline(&slices, None)?;
            peer.conn.borrow_mut().advance_transmit(n);
            continue;
        }
        let taken = {
            let mut conn = peer.conn.borrow_mut();
            let mut out = peer.out.borrow_mut();
            let mut n = 0;
            while n < BATCH_MSGS && encode.len() < BATCH_BYTES {
                let Some(msg) = out.pop_front() else { break };
                n += 1;
                if conn.has_frame_transform() {
                    conn.send_message(&msg).map_err(crate::Error::failed)?;
                } else {
                    conn.send_message_flat(&msg, &mut encode);
                }
            }
            n
        };
        if !encode.is_empty() {
            *peer.flat.borrow_mut() = encode.split().freeze();
        }
        if taken > 0 {
            room.notify_all();
        }
    }
}
