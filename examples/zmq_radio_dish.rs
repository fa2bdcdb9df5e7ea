//! RADIO and DISH, the draft socket types for groups: a RADIO greenlet
//! publishes weather and sports updates, each message in its group; two
//! DISH sockets join one group each and receive only that group's
//! messages, whole and single-part.
//!
//! A RADIO drops what no DISH has joined yet, and a join reaches it only
//! once the connection is up, so the radio repeats its updates until both
//! dishes have heard five. Prints, per dish, `dish weather: weather 1`,
//! ... up to 5 (the two dishes' lines interleave), then
//! `dish weather got 5 updates` and `dish sports got 5 updates` as each
//! finishes.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use zgreen::zmq::Context;
use zgreen::zmq::draft::{DraftKind, DraftMessage, DraftSocket};

/// Publishes update `n` of both groups every 5 ms until `stop` is set.
fn radio(radio: DraftSocket, stop: Rc<Cell<bool>>) -> zgreen::Result<()> {
    let mut n = 0;
    while !stop.get() {
        n = n % 5 + 1;
        for group in ["weather", "sports"] {
            radio.send(DraftMessage::new(format!("{group} {n}")).in_group(group))?;
        }
        zgreen::sleep(Duration::from_millis(5))?;
    }
    Ok(())
}

/// Prints the first five updates of `group` in order, from update 1.
fn dish(dish: DraftSocket, group: &str) -> zgreen::Result<()> {
    let mut next = 1;
    while next <= 5 {
        let msg = dish.recv()?;
        assert_eq!(msg.group.as_deref(), Some(group));
        let text = String::from_utf8_lossy(&msg.data).into_owned();
        // Updates heard before update 1 came round are skipped.
        if text == format!("{group} {next}") {
            println!("dish {group}: {text}");
            next += 1;
        }
    }
    println!("dish {group} got 5 updates");
    Ok(())
}

fn main() -> zgreen::Result<()> {
    let ctx = Context::new();
    let sender = ctx.draft_socket(DraftKind::Radio)?;
    sender.bind("tcp://127.0.0.1:*")?;
    let endpoint = sender.last_endpoint()?;

    let mut dishes = Vec::new();
    for group in ["weather", "sports"] {
        let socket = ctx.draft_socket(DraftKind::Dish)?;
        socket.join(group)?;
        socket.connect(&endpoint)?;
        dishes.push(zgreen::spawn(move || dish(socket, group)));
    }
    let stop = Rc::new(Cell::new(false));
    let publisher = zgreen::spawn({
        let stop = stop.clone();
        move || radio(sender, stop)
    });

    for d in dishes {
        d.get()??;
    }
    stop.set(true);
    publisher.get()?
}
