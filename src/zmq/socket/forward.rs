//! Zero-copy forwarding of whole messages from one socket to another, the
//! core of the proxies: each frame is received into a raw `zmq_msg_t`
//! and handed to the destination with `zmq_msg_send`, so its payload is
//! never copied (libzmq's own `zmq_proxy` does the same).
//!
//! The `zmq` crate's `send` of a `Message` consumes it even when libzmq
//! answers `EAGAIN`, which would lose the frame. libzmq itself leaves the
//! message with the caller on failure, so this file calls `zmq_sys`
//! directly and keeps it. The loop only ever uses `ZMQ_DONTWAIT`, so it
//! never switches. Anything other than a plain success (a full
//! destination, `EHOSTUNREACH`, an interrupted context) hands the rest of
//! the message to the green API, which parks, reports errors and keeps the
//! partial-message bookkeeping as every other send and receive does.

use super::{Dir, Socket};
use crate::error::{Error, Result};
use crate::hub;
use crate::zmq::ffi::RawMsg;

/// Moves up to `max_msgs` whole messages from `src` to `dst` without
/// copying their frames; returns the frames and bytes moved. `Ok(None)`
/// means another greenlet is in the middle of a message on one of the
/// sockets: use the green API instead.
pub(crate) fn forward_messages(src: &Socket, dst: &Socket, max_msgs: usize) -> Result<Option<(u64, u64)>> {
    if src.inner.recv_turn.is_taken() || dst.inner.send_turn.is_taken() {
        return Ok(None);
    }
    hub::check_interrupt()?;
    src.inner.check_open()?;
    dst.inner.check_open()?;
    let mut moved = (0u64, 0u64);
    let mut msg = RawMsg::new();
    for _ in 0..max_msgs {
        // SAFETY: `raw` is the live socket of `src` (see `Inner`), on its
        // own thread.
        match unsafe { msg.recv(src.inner.raw) } {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                src.inner.wake_ready();
                return Err(Error::Zmq(e));
            }
        }
        let mut first = true;
        loop {
            let more = msg.more();
            moved.0 += 1;
            moved.1 += msg.bytes().len() as u64;
            // SAFETY: as above, for `dst`.
            if unsafe { msg.send(dst.inner.raw, more) }.is_err() {
                finish_green(src, dst, Some(msg.bytes()), more, !first, &mut moved)?;
                return Ok(Some(moved));
            }
            if !more {
                break;
            }
            first = false;
            // The rest of a message is already here (atomic delivery); if
            // not, the green receive waits for it or reports the error.
            // SAFETY: as above.
            if unsafe { msg.recv(src.inner.raw) } != Ok(true) {
                finish_green(src, dst, None, true, true, &mut moved)?;
                return Ok(Some(moved));
            }
        }
    }
    // Wake other waiters these operations may have hidden an edge from,
    // and count the frames for fairness, as each green operation does.
    src.inner.count_calls(moved.0 + 1);
    dst.inner.count_calls(moved.0 + 1);
    src.inner.wake_ready();
    dst.inner.wake_ready();
    super::count_ops(2 * moved.0 as usize);
    Ok(Some(moved))
}

/// Finishes a message the green way after the raw path stopped in its
/// middle: `pending` is a received frame not sent yet (`more`: frames
/// follow it), `dst_mid` says frames of this message were already sent.
/// The partial-message owners are recorded first, so other greenlets
/// wait while `send` or `recv` parks.
///
/// If anything fails on the way, the message is given up on both sides
/// (the rest of it is dropped from `src`; `dst`, holding a cut message,
/// needs a reset), so neither socket stays owned by this greenlet.
fn finish_green(
    src: &Socket,
    dst: &Socket,
    pending: Option<&[u8]>,
    more: bool,
    dst_mid: bool,
    moved: &mut (u64, u64),
) -> Result<()> {
    let me = hub::current_task().id;
    src.inner.wake_ready();
    dst.inner.wake_ready();
    if dst_mid {
        dst.inner.send_turn.take(me, true);
    }
    if more {
        src.inner.recv_turn.take(me, true);
    }
    let r = finish_frames(src, dst, pending, more, moved);
    if r.is_err() {
        src.inner.give_up_if_owner(Dir::Read);
        dst.inner.give_up_if_owner(Dir::Write);
    }
    r
}

fn finish_frames(
    src: &Socket,
    dst: &Socket,
    pending: Option<&[u8]>,
    more: bool,
    moved: &mut (u64, u64),
) -> Result<()> {
    let flags = |more: bool| if more { zmq::SNDMORE } else { 0 };
    if let Some(frame) = pending {
        dst.send(frame, flags(more))?;
    }
    let mut more = more;
    while more {
        let next = src.recv_msg(0)?;
        more = next.get_more();
        moved.0 += 1;
        moved.1 += next.len() as u64;
        dst.send(&next[..], flags(more))?;
    }
    Ok(())
}
