//! Green processes: [`Command`]/[`Child`] (gevent's `subprocess`) and the
//! [`relay`] (gevent's `gipc`: a function of this binary running in a child
//! process, talking to the parent over a duplex channel of serde_json
//! messages), also over a ZeroMQ `PAIR` socket ([`relay_zmq`]) between
//! processes that did not start one another.
//!
//! Child stdio pipes are green ([`PipeReader`], [`PipeWriter`]): reading a
//! child's output or feeding its input parks the calling greenlet only.
//! Children are reaped without blocking the hub, through a pidfd (Linux ≥
//! 5.3) registered with it, or a SIGCHLD self-pipe where pidfds are
//! refused.
//!
//! # Examples
//!
//! The seed's `cron` example: a greenlet keeps printing while a child runs.
//!
//! ```
//! use std::time::Duration;
//! use zgreen::process::Command;
//!
//! let cron = zgreen::spawn(|| loop {
//!     if zgreen::sleep(Duration::from_millis(20)).is_err() {
//!         break;
//!     }
//! });
//! let out = Command::shell("sleep 0.1; echo done").output().unwrap();
//! cron.kill().unwrap();
//! assert_eq!(out.stdout, b"done\n");
//! ```

mod child;
mod pipe;
mod reap;
pub mod relay;
#[cfg(feature = "zmq")]
pub mod relay_zmq;

pub use self::child::{Child, Command, TryWaitError};
pub use self::pipe::{ChildStderr, ChildStdin, ChildStdout, PipeReader, PipeWriter};
pub use std::process::{ExitStatus, Output, Stdio};
