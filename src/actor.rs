//! Actors: a greenlet with an inbox and a `receive` handler (the seed's
//! Actors section; gevent has no actor type, it builds one from a
//! `Queue` inside a `Greenlet`).
//!
//! Life cycle, as CZMQ actors have it: an [`Address`] (the inbox) exists
//! before its actor starts, so actors can know each other's addresses;
//! [`Address::start`] runs the actor in a new greenlet that takes one
//! message at a time and hands it to [`Actor::receive`]; the actor ends
//! when it calls [`Context::stop`], when someone calls
//! [`Address::stop`] (it first handles what is already in its inbox),
//! when `receive` returns an error, or when it is killed. When it ends, its
//! inbox is shut down: later sends fail and hand their message back.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::greenlet::{Builder, Greenlet};
use crate::queue::{PutError, Queue, ShutdownMode, TryPutError};

/// The behaviour of an actor: what it does with each message.
///
/// # Examples
///
/// ```
/// use zgreen::actor::{Actor, Address, Context};
///
/// struct Summer(u64);
/// impl Actor for Summer {
///     type Message = u64;
///     fn receive(&mut self, ctx: &Context<u64>, n: u64) -> zgreen::Result<()> {
///         self.0 += n;
///         if self.0 >= 10 {
///             ctx.stop();
///         }
///         Ok(())
///     }
/// }
///
/// let addr = Address::new();
/// let g = addr.start(Summer(0));
/// for n in 1..=4 {
///     addr.send(n).unwrap();
/// }
/// g.get().unwrap().unwrap(); // 1 + 2 + 3 + 4 reached 10
/// assert!(addr.send(5).is_err()); // its inbox is shut down
/// ```
pub trait Actor: 'static {
    /// What the actor's inbox carries.
    type Message: 'static;

    /// Handles one message. An error ends the actor (it becomes the
    /// result of the actor's greenlet).
    fn receive(&mut self, ctx: &Context<Self::Message>, message: Self::Message) -> Result<()>;

    /// Runs once in the actor's greenlet before the first message.
    fn started(&mut self, ctx: &Context<Self::Message>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }
}

/// What an actor's handlers can do besides handling the message.
pub struct Context<M> {
    address: Address<M>,
    running: Cell<bool>,
}

impl<M> fmt::Debug for Context<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("running", &self.running.get())
            .finish_non_exhaustive()
    }
}

impl<M: 'static> Context<M> {
    /// Ends the actor after the current message (the seed's
    /// `self.running = False`). Messages still in its inbox are dropped.
    pub fn stop(&self) {
        self.running.set(false);
    }

    /// The actor's own address (Erlang's `self()`).
    pub fn address(&self) -> &Address<M> {
        &self.address
    }
}

/// An actor's inbox, the handle others send messages to. Cheap to clone.
pub struct Address<M> {
    inbox: Queue<M>,
}

impl<M> Clone for Address<M> {
    fn clone(&self) -> Self {
        Address {
            inbox: self.inbox.clone(),
        }
    }
}

impl<M> fmt::Debug for Address<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address").field("inbox", &self.inbox).finish()
    }
}

impl<M: 'static> Default for Address<M> {
    fn default() -> Self {
        Address::new()
    }
}

impl<M: 'static> Address<M> {
    /// An address with an unbounded inbox and no actor yet: messages sent
    /// now wait for [`start`](Self::start).
    pub fn new() -> Address<M> {
        Address { inbox: Queue::new() }
    }

    /// An address whose inbox holds at most `maxsize` messages: `send`
    /// parks (back-pressure) while it is full.
    pub fn bounded(maxsize: usize) -> Address<M> {
        Address {
            inbox: Queue::bounded(maxsize),
        }
    }

    /// Starts `actor` on this address in a new greenlet, which returns
    /// `Ok(())` when the actor stops and the error that ended it
    /// otherwise.
    pub fn start<A: Actor<Message = M>>(&self, actor: A) -> Greenlet<Result<()>> {
        let addr = self.clone();
        crate::spawn(move || run(actor, addr))
    }

    /// [`start`](Self::start) with a [`Builder`] (name, stack size).
    pub fn start_with<A: Actor<Message = M>>(
        &self,
        builder: Builder,
        actor: A,
    ) -> Result<Greenlet<Result<()>>> {
        let addr = self.clone();
        builder.spawn(move || run(actor, addr))
    }

    /// Sends `message`, parking while a bounded inbox is full. Fails,
    /// handing the message back, once the actor has ended.
    pub fn send(&self, message: M) -> std::result::Result<(), PutError<M>> {
        self.inbox.put(message)
    }

    /// [`send`](Self::send), giving up after `timeout`.
    pub fn send_timeout(&self, message: M, timeout: Duration) -> std::result::Result<(), PutError<M>> {
        self.inbox.put_timeout(message, timeout)
    }

    /// [`send`](Self::send), giving up at `deadline`.
    pub fn send_deadline(&self, message: M, deadline: Instant) -> std::result::Result<(), PutError<M>> {
        self.inbox.put_deadline(message, deadline)
    }

    /// Sends `message` if that needs no waiting.
    pub fn try_send(&self, message: M) -> std::result::Result<(), TryPutError<M>> {
        self.inbox.try_put(message)
    }

    /// Asks the actor to stop once it has handled the messages already in
    /// its inbox (CZMQ's `$TERM`); later sends fail.
    pub fn stop(&self) {
        self.inbox.shutdown(ShutdownMode::Drain);
    }

    /// True once the actor has ended or [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.inbox.is_shut_down()
    }

    /// The inbox itself.
    pub fn inbox(&self) -> &Queue<M> {
        &self.inbox
    }
}

fn run<A: Actor>(mut actor: A, address: Address<A::Message>) -> Result<()> {
    let inbox = address.inbox.clone();
    let ctx = Context {
        address,
        running: Cell::new(true),
    };
    let result = serve(&mut actor, &ctx);
    // Nobody will read the inbox again: refuse new messages.
    drop(inbox.shutdown(ShutdownMode::Immediate));
    result
}

fn serve<A: Actor>(actor: &mut A, ctx: &Context<A::Message>) -> Result<()> {
    actor.started(ctx)?;
    while ctx.running.get() {
        let message = match ctx.address.inbox.get() {
            Ok(m) => m,
            // Stopped and drained.
            Err(Error::Closed(_)) => break,
            Err(e) => return Err(e),
        };
        actor.receive(ctx, message)?;
    }
    Ok(())
}
