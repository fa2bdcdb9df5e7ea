//! The tutorial's Pinger/Ponger actors, with ZeroMQ inboxes: each actor is
//! a greenlet looping on `recv` from its end of a PAIR socket pair over
//! `inproc://`, and everything it sends arrives in the other actor's
//! inbox. The seed's actors play forever; these stop after three rounds.

use zgreen::zmq::{Context, Socket};

const ROUNDS: u32 = 3;

/// Receives the next message of an actor's inbox as text.
fn receive(inbox: &Socket) -> zgreen::Result<String> {
    Ok(String::from_utf8_lossy(&inbox.recv_bytes(0)?).into_owned())
}

/// Prints each message and answers `ping`; after `ROUNDS` pongs it tells
/// the ponger to stop, and stops.
fn pinger(inbox: Socket) -> zgreen::Result<()> {
    let mut pongs = 0;
    loop {
        let message = receive(&inbox)?;
        println!("{message}");
        if message == "pong" {
            pongs += 1;
            if pongs == ROUNDS {
                return inbox.send("stop", 0);
            }
        }
        inbox.send("ping", 0)?;
    }
}

/// Prints each message and answers `pong`, until `stop`.
fn ponger(inbox: Socket) -> zgreen::Result<()> {
    loop {
        let message = receive(&inbox)?;
        if message == "stop" {
            return Ok(());
        }
        println!("{message}");
        inbox.send("pong", 0)?;
    }
}

fn main() -> zgreen::Result<()> {
    let context = Context::new();
    // Two ends of one pair: what one actor sends, the other receives.
    let ping_inbox = context.socket(zmq::PAIR)?;
    ping_inbox.bind("inproc://ping-pong")?;
    let pong_inbox = context.socket(zmq::PAIR)?;
    pong_inbox.connect("inproc://ping-pong")?;

    // The first message goes to the pinger's inbox through the pair.
    pong_inbox.send("start", 0)?;

    let ping = zgreen::spawn(move || pinger(ping_inbox));
    let pong = zgreen::spawn(move || ponger(pong_inbox));
    zgreen::joinall([ping.any(), pong.any()])?;
    ping.get()??;
    pong.get()?
}
