//! Whose turn it is to send or receive: the ownership of a partial
//! multipart message, one per direction of a socket.
//!
//! A greenlet that has sent (or received) some frames of a message and not
//! its last one *owns* that direction: every other greenlet's operation in
//! that direction waits in the turn's queue, and is checked again on every
//! retry (a greenlet parked on readiness may find, when it wakes, that
//! another one has started a message meanwhile). The turn passes on when
//! the owner finishes its message, fails, or ends:
//!
//! - last frame done: the owner releases the turn and wakes every waiter
//!   (each checks again; the first to start a message owns the turn next);
//! - the owner's call fails mid-message: [`Inner::give_up`] ends the message
//!   (a cut send marks the socket for reset, a receive discards the rest of
//!   its message) and wakes every waiter;
//! - the owner ends between frames (returns early with `?`, panics, is
//!   killed): for ownership held across calls (frame-by-frame use), an
//!   [`ExitHook`] registered on the task gives the message up; inside one
//!   `send_multipart`/`recv_multipart` call a [`MultipartGuard`] on the
//!   stack does it (no hook, no allocation).

use std::cell::Cell;
use std::rc::{Rc, Weak};

use super::{Dir, Inner};
use crate::hub::task::{ExitHook, WaitQueue};
use crate::hub::{self, Deadline};

/// One direction's turn.
///
/// # Invariant
/// `owner` is the id of the greenlet that has moved some but not all
/// frames of a message in this direction, or `None`. `hooked` is true
/// exactly while `owner`'s task holds this turn's exit hook.
pub(crate) struct Turn {
    pub(super) owner: Cell<Option<u64>>,
    pub(super) waiters: WaitQueue,
    hooked: Cell<bool>,
    sock: Weak<Inner>,
    dir: Dir,
}

impl Turn {
    pub(super) fn new(sock: Weak<Inner>, dir: Dir) -> Turn {
        Turn {
            owner: Cell::new(None),
            waiters: WaitQueue::default(),
            hooked: Cell::new(false),
            sock,
            dir,
        }
    }

    /// True if some greenlet is in the middle of a message.
    #[inline]
    pub(crate) fn is_taken(&self) -> bool {
        self.owner.get().is_some()
    }

    /// True if `me` may move a frame now (nobody owns the turn, or `me`).
    #[inline]
    pub(super) fn is_free_for(&self, me: u64) -> bool {
        self.owner.get().is_none_or(|o| o == me)
    }

    /// Waits until the turn may be free (the caller checks again).
    pub(super) fn wait(&self, deadline: Option<Deadline>) -> crate::Result<()> {
        self.waiters.wait(deadline)
    }

    /// Records that `me` now owns a partial message. With `hook`, the
    /// ownership outlives the call, so an exit hook gives the message up
    /// if the greenlet ends first.
    pub(super) fn take(self: &Rc<Self>, me: u64, hook: bool) {
        if self.owner.get() == Some(me) {
            return;
        }
        self.owner.set(Some(me));
        if hook && me != 0 {
            hub::current_task().add_exit_hook(self.clone() as Rc<dyn ExitHook>);
            self.hooked.set(true);
        }
    }

    /// Ends the current ownership (if any) and wakes every waiter.
    pub(super) fn release(self: &Rc<Self>) {
        if self.owner.take().is_none() {
            return;
        }
        if self.hooked.replace(false) {
            let me: Rc<dyn ExitHook> = self.clone();
            hub::current_task().remove_exit_hook(&me);
        }
        self.waiters.notify_all();
    }
}

impl ExitHook for Turn {
    fn task_exited(&self, task_id: u64) {
        // The hook list was taken from the task: nothing to remove.
        self.hooked.set(false);
        if self.owner.get() != Some(task_id) {
            return;
        }
        if let Some(inner) = self.sock.upgrade() {
            inner.give_up(self.dir);
        }
    }
}

/// Gives up the current greenlet's partial message in `dir` when dropped
/// while the greenlet still owns it: a `send_multipart`/`recv_multipart`
/// left by an error or a panic between two frames.
pub(super) struct MultipartGuard<'a> {
    pub(super) inner: &'a Inner,
    pub(super) dir: Dir,
}

impl Drop for MultipartGuard<'_> {
    fn drop(&mut self) {
        self.inner.give_up_if_owner(self.dir);
    }
}
