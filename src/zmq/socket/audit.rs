//! The backstop (readiness rule 8): a periodic audit of a socket's parked
//! operations that finds, counts and repairs lost wakeups. It should never
//! find one.
//!
//! A wakeup is lost when a greenlet waits in a direction, the socket is
//! ready in that direction, and nothing will wake the greenlet: no edge is
//! pending on `ZMQ_FD` and no operation on the socket is going to re-read
//! `ZMQ_EVENTS`. The audit only calls it lost when it has seen, a whole
//! period apart, the same first waiter not woken, no edge delivered or
//! pending, and no libzmq call made on the socket in between, and then
//! finds the socket ready. Anything else (a waiter woken just before and
//! not run yet, a command on its way) is not counted. Its one read of
//! `ZMQ_EVENTS` happens only then, so the audit itself does not consume
//! the edges it looks for.

use std::os::fd::RawFd;
use std::rc::Weak;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{BACKSTOP_RESCUES, Dir, Inner};
use crate::hub::{self, TimerAction};

/// What the previous audit saw in one direction.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Seen {
    /// (task id, park sequence) of the first live waiter.
    waiter: Option<(u64, u64)>,
    /// Edges delivered plus libzmq calls made, at that moment.
    epoch: u64,
}

/// True if `fd` is readable right now (a `poll` that never blocks).
fn fd_readable(fd: RawFd) -> bool {
    crate::sys::poll_now(&[(fd, true, false)]).is_ok_and(|r| r[0].readable)
}

/// Arms the next audit of the socket behind `weak` after `period`.
pub(super) fn arm(weak: Weak<Inner>, period: Duration) {
    hub::with_hub(|h| {
        h.add_timer(
            Instant::now() + period,
            TimerAction::Call(Box::new(move || {
                let Some(inner) = weak.upgrade() else { return };
                match inner.backstop.get() {
                    Some(p) => {
                        inner.audit();
                        arm(weak, p);
                    }
                    None => inner.audit_armed.set(false),
                }
            })),
        )
    });
}

impl Inner {
    /// One audit of both directions (see the module doc).
    fn audit(&self) {
        for dir in [Dir::Read, Dir::Write] {
            // A mandatory ROUTER's POLLOUT does not mean a waiting sender
            // can proceed: its senders wait for their own peer.
            if dir == Dir::Write && self.is_mandatory_router() {
                continue;
            }
            let (q, want, slot) = match dir {
                Dir::Read => (&self.reg.entry.readers, zmq::POLLIN, &self.audit_seen[0]),
                Dir::Write => (&self.reg.entry.writers, zmq::POLLOUT, &self.audit_seen[1]),
            };
            let now = Seen {
                waiter: q.front_key(),
                epoch: self.reg.entry.edges.get().wrapping_add(self.calls.get()),
            };
            let before = slot.replace(now);
            let Some((task, _)) = now.waiter else { continue };
            // Waiting behind another greenlet's partial message is not
            // waiting for readiness.
            let turn = self.turn(dir);
            if turn.owner.get().is_some_and(|o| o != task) {
                continue;
            }
            if before != now || fd_readable(self.fd) {
                continue;
            }
            slot.set(Seen::default());
            // This read may process commands: it wakes whoever can go on,
            // in both directions, as any other read does (rule 5).
            let Ok(ev) = self.poll_events() else { continue };
            if ev.contains(want) {
                BACKSTOP_RESCUES.fetch_add(1, Ordering::Relaxed);
                tracing::error!(fd = self.fd, "zgreen zmq: backstop rescued a lost wakeup");
            }
        }
    }
}
