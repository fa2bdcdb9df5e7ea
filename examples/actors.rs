//! Actors (the tutorial's Pinger/Ponger): each actor is a greenlet with an
//! inbox; `receive` handles one message at a time. The seed's actors play
//! forever; these stop after three rounds.

use std::time::Duration;

use zgreen::actor::{Actor, Address, Context};

struct Pinger {
    pong: Address<&'static str>,
    rounds: u32,
}

impl Actor for Pinger {
    type Message = &'static str;

    fn receive(&mut self, ctx: &Context<&'static str>, message: &'static str) -> zgreen::Result<()> {
        println!("{message}");
        if message == "pong" {
            self.rounds -= 1;
            if self.rounds == 0 {
                // Ask the ponger to stop, and stop.
                self.pong.stop();
                ctx.stop();
                return Ok(());
            }
        }
        self.pong.send("ping")?;
        zgreen::sleep(Duration::ZERO)
    }
}

struct Ponger {
    ping: Address<&'static str>,
}

impl Actor for Ponger {
    type Message = &'static str;

    fn receive(&mut self, _ctx: &Context<&'static str>, message: &'static str) -> zgreen::Result<()> {
        println!("{message}");
        self.ping.send("pong")?;
        zgreen::sleep(Duration::ZERO)
    }
}

fn main() -> zgreen::Result<()> {
    // The inboxes exist before the actors, so each can know the other's.
    let ping = Address::new();
    let pong = Address::new();

    let pinger = ping.start(Pinger {
        pong: pong.clone(),
        rounds: 3,
    });
    let ponger = pong.start(Ponger { ping: ping.clone() });

    ping.send("start")?;
    zgreen::joinall([pinger.any(), ponger.any()])?;
    pinger.get()??;
    ponger.get()?
}
