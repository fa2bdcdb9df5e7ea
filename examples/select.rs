//! The seed's `select` example (the tutorial's "Greenlet control flow"):
//! two greenlets "poll" with `select` for two seconds while a third one
//! runs meanwhile. `select` parks only the calling greenlet, so all three
//! start at once and the whole program takes two seconds, not four.

use std::time::{Duration, Instant};

use zgreen::net::select;

fn main() -> zgreen::Result<()> {
    let start = Instant::now();
    let tic = move || format!("at {:.1} seconds", start.elapsed().as_secs_f64());

    let gr1 = move || -> zgreen::Result<()> {
        // Busy waits for a second, but we don't want to stick around...
        println!("Started Polling: {}", tic());
        select(&[], &[], Some(Duration::from_secs(2)))?;
        println!("Ended Polling: {}", tic());
        Ok(())
    };

    let gr2 = move || -> zgreen::Result<()> {
        // Busy waits for a second, but we don't want to stick around...
        println!("Started Polling: {}", tic());
        select(&[], &[], Some(Duration::from_secs(2)))?;
        println!("Ended Polling: {}", tic());
        Ok(())
    };

    let gr3 = move || -> zgreen::Result<()> {
        println!("Hey lets do some stuff while the greenlets poll, {}", tic());
        zgreen::sleep(Duration::from_secs(1))
    };

    zgreen::joinall([zgreen::spawn(gr1), zgreen::spawn(gr2), zgreen::spawn(gr3)])
}
