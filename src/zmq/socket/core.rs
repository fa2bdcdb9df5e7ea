//! The operation core every send and receive goes through: try with
//! `DONTWAIT`, check the turn and the socket's state on every retry, park
//! on readiness, wake the others (readiness rules 2 to 5), and the
//! "outcome wins" rule.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Dir, FAIRNESS_OPS, Inner, OPS_SINCE_YIELD};
use crate::error::{Error, ResetReason, Result};
use crate::hub::{self, Deadline};

/// First pause of a send that a mandatory ROUTER refused for a full peer.
const MANDATORY_RETRY_MIN: Duration = Duration::from_millis(1);
/// Longest pause between two such retries.
pub(crate) const MANDATORY_RETRY_MAX: Duration = Duration::from_millis(32);

/// How a mandatory ROUTER's refused send waits (see [`Inner::wait_mandatory`]).
#[derive(Default)]
pub(super) struct MandatoryRetry {
    events_read: bool,
    step: Option<Duration>,
}

impl Inner {
    /// Runs one frame operation: `attempt` makes the `DONTWAIT` libzmq
    /// call and says whether more frames of the message follow. `hook`:
    /// a partial message left by this call outlives it (frame-by-frame
    /// use), so the turn registers an exit hook.
    ///
    /// Order of checks, each on every retry: the socket is open and not
    /// in need of a reset; nobody else owns this direction's turn; then
    /// the call. A blocking operation that starts a message checks for a
    /// kill or timeout first; one that continues the caller's own message
    /// does not (a receive's remaining frames are already there, and a
    /// send's frame is tried before an interrupt can cut the message).
    /// Once the call has succeeded, its result is returned whatever
    /// happens after (outcome wins over interrupt).
    pub(super) fn run_op(
        &self,
        dir: Dir,
        flags: i32,
        deadline: Option<Deadline>,
        hook: bool,
        mut attempt: impl FnMut(&Inner) -> std::result::Result<bool, zmq::Error>,
    ) -> Result<()> {
        let blocking = flags & zmq::DONTWAIT == 0;
        let turn = self.turn(dir);
        // The caller's id, looked up only when somebody owns the turn.
        let mut me = None;
        let mut my_id = || *me.get_or_insert_with(|| hub::current_task().id);
        let continuing = turn.is_taken() && turn.owner.get() == Some(my_id());
        if blocking && !continuing {
            hub::check_interrupt()?;
        }
        let mut mandatory = MandatoryRetry::default();
        loop {
            self.check_open()?;
            if turn.is_taken() && !turn.is_free_for(my_id()) {
                if !blocking {
                    return Err(Error::Zmq(zmq::Error::EAGAIN));
                }
                turn.wait(deadline).map_err(|e| self.fail(dir, e))?;
                continue;
            }
            self.count_calls(1);
            match attempt(self) {
                Ok(more) => {
                    if more {
                        turn.take(my_id(), hook);
                    } else if turn.is_taken() {
                        turn.release();
                    }
                    self.after_op(more);
                    return Ok(());
                }
                Err(zmq::Error::EAGAIN) if blocking => {
                    let waited = if dir == Dir::Write && self.is_mandatory_router() {
                        self.wait_mandatory(deadline, &mut mandatory)
                    } else {
                        self.park(dir, deadline)
                    };
                    if let Err(e) = waited {
                        return Err(self.fail_parked(dir, e));
                    }
                }
                Err(e) => {
                    // The call may have processed commands (rule 5 holds
                    // for failed calls too).
                    self.wake_ready();
                    return Err(self.fail(dir, e.into()));
                }
            }
        }
    }

    /// An operation in `dir` failed with `err`: a message the caller had
    /// started is given up (a cut send marks the socket for reset; a
    /// receive drops the rest of its message). `EAGAIN` of a `DONTWAIT`
    /// call leaves everything as it was.
    fn fail(&self, dir: Dir, err: Error) -> Error {
        if !matches!(err, Error::Zmq(zmq::Error::EAGAIN)) {
            self.give_up_if_owner(dir);
        }
        err
    }

    /// [`give_up`](Self::give_up) if the current greenlet is in the middle
    /// of a message in `dir`.
    pub(super) fn give_up_if_owner(&self, dir: Dir) {
        let turn = self.turn(dir);
        if turn.is_taken() && turn.owner.get() == Some(hub::current_task().id) {
            self.give_up(dir);
        }
    }

    /// [`fail`](Self::fail) for an interrupted park: a REQ socket whose
    /// wait for its reply was interrupted cannot send again until a reply
    /// it may never get, so it needs a reset.
    fn fail_parked(&self, dir: Dir, err: Error) -> Error {
        if dir == Dir::Read && self.kind == zmq::REQ && matches!(err, Error::Killed | Error::Timeout(_)) {
            self.mark_reset(ResetReason::ReplyInterrupted);
        }
        self.fail(dir, err)
    }

    /// Ends the partial message in `dir` whose owner failed or ended, and
    /// passes the turn on.
    pub(super) fn give_up(&self, dir: Dir) {
        let turn = self.turn(dir).clone();
        match dir {
            Dir::Write => {
                // libzmq holds the unfinished message and would append the
                // next frame to it; it drops it when the socket closes, so
                // the peer never sees a part of it.
                self.mark_reset(ResetReason::MultipartCut);
                turn.release();
            }
            Dir::Read => {
                let dropped = if self.closed.get() {
                    0
                } else {
                    self.drain_message()
                };
                if dropped > 0 {
                    tracing::warn!(
                        fd = self.fd,
                        frames = dropped,
                        "zgreen zmq: a receiver ended in the middle of a message; its remaining frames were dropped"
                    );
                }
                turn.release();
                self.wake_ready();
            }
        }
    }

    /// Receives and drops the remaining frames of the message being
    /// received (libzmq delivers a message whole, so they are all there);
    /// returns how many.
    fn drain_message(&self) -> usize {
        let mut n = 0;
        let mut msg = zmq::Message::new();
        while self.sock.recv(&mut msg, zmq::DONTWAIT).is_ok() {
            n += 1;
            if !msg.get_more() {
                break;
            }
        }
        n
    }

    /// Marks the socket unusable and wakes every parked greenlet so that
    /// each sees [`Error::NeedsReset`] at once.
    pub(super) fn mark_reset(&self, why: ResetReason) {
        if self.needs_reset.get().is_none() {
            self.needs_reset.set(Some(why));
            self.wake_all();
        }
    }

    /// Wakes every greenlet parked on this socket, in either direction or
    /// waiting for a turn: each one checks the socket's state again.
    pub(super) fn wake_all(&self) {
        let e = &self.reg.entry;
        e.readers.notify_all();
        e.writers.notify_all();
        self.send_turn.waiters.notify_all();
        self.recv_turn.waiters.notify_all();
    }

    /// Records `n` libzmq calls on this socket (the backstop's audit only
    /// asks whether any call happened between two of its looks).
    #[inline]
    pub(super) fn count_calls(&self, n: u64) {
        self.calls.set(self.calls.get().wrapping_add(n));
    }

    /// Fails once the socket is closed or needs a reset.
    #[inline]
    pub(super) fn check_open(&self) -> Result<()> {
        if self.closed.get() {
            return Err(Error::SocketClosed);
        }
        match self.needs_reset.get() {
            Some(why) => Err(Error::NeedsReset(why)),
            None => Ok(()),
        }
    }

    /// True for a ROUTER with `ZMQ_ROUTER_MANDATORY` set.
    #[inline]
    pub(super) fn is_mandatory_router(&self) -> bool {
        self.kind == zmq::ROUTER && self.router_mandatory.get()
    }

    /// Reads `ZMQ_EVENTS` and wakes the first waiter of each direction
    /// that can proceed (rule 5).
    pub(super) fn poll_events(&self) -> std::result::Result<zmq::PollEvents, zmq::Error> {
        self.count_calls(1);
        let ev = self.sock.get_events()?;
        if ev.contains(zmq::POLLIN) {
            self.reg.entry.readers.notify_one();
        }
        if ev.contains(zmq::POLLOUT) {
            self.reg.entry.writers.notify_one();
        }
        Ok(ev)
    }

    /// After a libzmq call on this socket (which may have processed
    /// commands and so consumed an edge): if anybody is parked, re-read
    /// `ZMQ_EVENTS` and wake who can proceed. Nobody parked: the next one
    /// to park reads it itself (rule 3). Errors are left to the next
    /// operation, which meets them again.
    #[inline]
    pub(super) fn wake_ready(&self) {
        let e = &self.reg.entry;
        if e.readers.has_waiters() || e.writers.has_waiters() {
            let _ = self.poll_events();
        }
    }

    /// After a successful operation: wake waiters that can proceed, and
    /// yield now and then so a greenlet that never blocks cannot starve
    /// the others (never in the middle of a message). Infallible: the
    /// operation's result must reach the caller.
    #[inline]
    pub(super) fn after_op(&self, partial: bool) {
        self.wake_ready();
        if !partial {
            count_ops(1);
        }
    }

    /// Parks until `dir` may be ready (rules 3 and 4, 7).
    fn park(&self, dir: Dir, deadline: Option<Deadline>) -> Result<()> {
        let want = match dir {
            Dir::Read => zmq::POLLIN,
            Dir::Write => zmq::POLLOUT,
        };
        // A receive parks only after a `DONTWAIT` receive failed, and
        // libzmq processes every pending command inside that call before
        // it says `EAGAIN` (a send does not): the mailbox is empty, so
        // `ZMQ_EVENTS` would find no message, and the next command will
        // raise a new edge. Reading it is still needed when a writer
        // waits, as those commands may have made the socket writable.
        let writers = &self.reg.entry.writers;
        if dir == Dir::Write || writers.has_waiters() {
            let ev = self.poll_events()?;
            if ev.contains(want) {
                return Ok(()); // the edge already fired: retry at once
            }
        }
        let q = match dir {
            Dir::Read => &self.reg.entry.readers,
            Dir::Write => &self.reg.entry.writers,
        };
        q.wait(deadline)
    }

    /// A mandatory ROUTER refused a send with `EAGAIN`: the peer's pipe is
    /// full, but `ZMQ_EVENTS` reports POLLOUT while any other pipe has room,
    /// so readiness cannot say when this peer can take it. The peer's pipe
    /// announces room with a command, which raises an edge, unless another
    /// call on the socket processes it first. So: process pending commands
    /// once and retry; then park until an edge or a pause (1 ms, doubling
    /// to [`MANDATORY_RETRY_MAX`]), whichever comes first, and retry. It
    /// never spins, and it never wakes other writers (two greenlets
    /// sending to two full peers would otherwise wake each other forever).
    fn wait_mandatory(&self, deadline: Option<Deadline>, st: &mut MandatoryRetry) -> Result<()> {
        if !st.events_read {
            st.events_read = true;
            self.count_calls(1);
            let ev = self.sock.get_events()?;
            if ev.contains(zmq::POLLIN) {
                self.reg.entry.readers.notify_one();
            }
            return Ok(());
        }
        st.events_read = false;
        let step = st
            .step
            .map_or(MANDATORY_RETRY_MIN, |s| (s * 2).min(MANDATORY_RETRY_MAX));
        st.step = Some(step);
        let pause = Deadline::after(step);
        let own_first = deadline.is_none_or(|d| d.at > pause.at);
        let d = if own_first {
            pause
        } else {
            deadline.expect("checked")
        };
        match self.reg.entry.writers.wait(Some(d)) {
            Err(Error::Timeout(t)) if t.id == 0 && own_first => Ok(()),
            other => other,
        }
    }
}

/// Counts `ops` completed operations that did not park toward the
/// fairness rule: every [`set_fairness_ops`](super::set_fairness_ops) of
/// them on this thread, the current greenlet yields. A kill or timeout
/// met in that yield is left pending for the next blocking call: the
/// operations counted here have completed and their results stand.
pub(crate) fn count_ops(ops: usize) {
    let n = FAIRNESS_OPS.load(Ordering::Relaxed);
    if n == 0 || ops == 0 {
        return;
    }
    let count = OPS_SINCE_YIELD.with(|c| {
        let v = c.get() + ops;
        c.set(v);
        v
    });
    if count >= n {
        OPS_SINCE_YIELD.with(|c| c.set(0));
        let _ = hub::yield_now();
    }
}
