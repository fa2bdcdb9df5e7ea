//! Waking one parked greenlet, or a plain thread, from any OS thread: the
//! kernel's primitive for objects that several hubs share (the green
//! channels of `chan/`).
//!
//! A waiter makes a [`CrossPark`], hands its [`Signal`] (`Send + Sync`) to
//! the shared object, and parks. Whoever fires the signal, from whatever
//! thread, wakes that one park: on a hub through the hub's inbox and a
//! notification slot (one `eventfd` write, batched), on a thread that has
//! no hub through `Thread::unpark`, so a plain worker thread blocks without
//! creating a hub.

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;
use std::time::Instant;

use super::{Deadline, HubHandle, RemoteSlot};

/// Where a fired [`Signal`] goes.
enum Target {
    /// A greenlet (or the root context) parked on a hub, through the
    /// notification slot `key` of that hub.
    Hub { handle: HubHandle, key: u64 },
    /// A thread without a hub, parked with `std::thread::park`.
    Thread(Thread),
}

/// The thread-safe half of a [`CrossPark`]: fire it from anywhere.
///
/// # Invariant
/// `fired` goes from false to true once per arming ([`Signal::fire`]
/// returns true exactly for that call); only the owner re-arms it
/// ([`Signal::rearm`]), while the signal is in no waiter list.
pub(crate) struct Signal {
    fired: AtomicBool,
    target: Target,
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("fired", &self.is_fired())
            .finish_non_exhaustive()
    }
}

impl Signal {
    fn new(target: Target) -> Arc<Signal> {
        Arc::new(Signal {
            fired: AtomicBool::new(false),
            target,
        })
    }

    /// Wakes the park this signal belongs to. Returns false (and does
    /// nothing) if it was fired already since it was last armed.
    pub(crate) fn fire(&self) -> bool {
        if self.fired.swap(true, Ordering::AcqRel) {
            return false;
        }
        match &self.target {
            // A hub that is gone has nobody left to wake.
            Target::Hub { handle, key } => {
                let _ = handle.notify(*key);
            }
            Target::Thread(t) => t.unpark(),
        }
        true
    }

    /// True once fired (until re-armed).
    pub(crate) fn is_fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    /// Arms the signal again for another wait.
    pub(crate) fn rearm(&self) {
        self.fired.store(false, Ordering::Release);
    }
}

/// One waiter's side of a cross-thread wakeup: a [`Signal`] to hand out
/// and the means to wait for it. Made on the waiting thread; not `Send`.
pub(crate) struct CrossPark {
    signal: Arc<Signal>,
    /// The hub-side slot, for a waiter on a hub.
    slot: Option<(u64, Rc<RemoteSlot>)>,
}

impl CrossPark {
    /// A park for the current greenlet (or root context) if this thread
    /// has a hub, else for the plain thread.
    pub(crate) fn new() -> CrossPark {
        if super::hub_exists() {
            let (handle, (key, slot)) = super::with_hub(|h| (h.handle(), h.new_remote_slot()));
            CrossPark {
                signal: Signal::new(Target::Hub { handle, key }),
                slot: Some((key, slot)),
            }
        } else {
            CrossPark {
                signal: Signal::new(Target::Thread(std::thread::current())),
                slot: None,
            }
        }
    }

    /// The signal to hand to the waker.
    pub(crate) fn signal(&self) -> &Arc<Signal> {
        &self.signal
    }

    /// Arms the park again (see [`Signal::rearm`]).
    pub(crate) fn rearm(&self) {
        self.signal.rearm();
        if let Some((_, slot)) = &self.slot {
            slot.fired.set(false);
        }
    }

    /// Waits until the signal fires (`Ok`), `deadline` passes
    /// (`Err(Timeout)`), or — on a hub — the greenlet is killed or its
    /// timeout scope expires. A fired signal wins over an error that
    /// arrives at the same time only if the caller checks
    /// [`Signal::is_fired`]: on an error, a caller that was fired must pass
    /// the wakeup on.
    pub(crate) fn wait(&self, deadline: Option<Deadline>) -> crate::Result<()> {
        match &self.slot {
            Some((_, slot)) => {
                while !slot.fired.get() {
                    slot.waiters.wait(deadline)?;
                }
                Ok(())
            }
            None => loop {
                if self.signal.is_fired() {
                    return Ok(());
                }
                match deadline {
                    None => std::thread::park(),
                    Some(d) => {
                        let now = Instant::now();
                        if now >= d.at {
                            return Err(super::deadline_error(deadline));
                        }
                        std::thread::park_timeout(d.at - now);
                    }
                }
            },
        }
    }
}

impl Drop for CrossPark {
    fn drop(&mut self) {
        if let Some((key, _)) = &self.slot {
            let _ = super::try_with_hub(|h| h.drop_remote_slot(*key));
        }
    }
}

/// A lasting subscription of one hub to a shared object, for
/// [`Waitable`](crate::Waitable): local waiters of that hub queue on its
/// slot; the shared object fires the signal (after which the owner
/// re-arms it). Dropping the watch from any thread frees the hub's slot.
pub(crate) struct Watch {
    signal: Arc<Signal>,
    key: u64,
    handle: HubHandle,
}

impl Watch {
    /// A watch for this thread's hub.
    pub(crate) fn new() -> Watch {
        let (handle, (key, _slot)) = super::with_hub(|h| (h.handle(), h.new_remote_slot()));
        Watch {
            signal: Signal::new(Target::Hub {
                handle: handle.clone(),
                key,
            }),
            key,
            handle,
        }
    }

    /// True if the watch belongs to this thread's hub.
    pub(crate) fn is_local(&self) -> bool {
        super::hub_exists() && super::with_hub(|h| h.handle()).same_hub(&self.handle)
    }

    /// The signal to list on the shared object.
    pub(crate) fn signal(&self) -> &Arc<Signal> {
        &self.signal
    }

    /// Queues `w` on the hub's slot, re-arming the signal. Call only when
    /// [`is_local`](Self::is_local).
    pub(crate) fn subscribe_local(&self, w: super::Waiter) {
        let slot = super::with_hub(|h| h.remote_slot(self.key));
        let Some(slot) = slot else { return };
        let _ = slot.waiters.is_empty(); // drops stale waiters
        slot.waiters.push(w);
        slot.fired.set(false);
        self.signal.rearm();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.handle.drop_slot(self.key);
    }
}
