//! Events: one greenlet sets an `Event`, five others wait for it (the
//! tutorial's "Events" example). The setter sleeps 300 ms where the seed
//! sleeps 3 s.

use std::time::Duration;

use zgreen::sync::Event;

/// Wakes every greenlet waiting on `evt` after a while.
fn setter(evt: Event) -> zgreen::Result<()> {
    println!("A: Hey wait for me, I have to do something");
    zgreen::sleep(Duration::from_millis(300))?;
    println!("Ok, I'm done");
    evt.set();
    Ok(())
}

/// Blocks until the event is set.
fn waiter(evt: Event) -> zgreen::Result<()> {
    println!("I'll wait for you");
    evt.wait()?; // blocking
    println!("It's about time");
    Ok(())
}

fn main() -> zgreen::Result<()> {
    let evt = Event::new();
    let mut greenlets = vec![zgreen::spawn({
        let evt = evt.clone();
        move || setter(evt)
    })];
    for _ in 0..5 {
        let evt = evt.clone();
        greenlets.push(zgreen::spawn(move || waiter(evt)));
    }
    zgreen::joinall(greenlets.iter())?;
    for g in &greenlets {
        g.get()??;
    }
    Ok(())
}
