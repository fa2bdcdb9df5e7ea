//! The seed's multiprocessing relay (gevent + `multiprocessing`, or
//! `gipc`): a child process answers each `hi` from the parent with
//! `hi in N`, over a duplex channel that both sides use cooperatively.
//!
//! The child is this same program, started again: `relay::dispatch()` at
//! the top of `main` runs the registered function there and exits.

use std::rc::Rc;
use std::time::Duration;

use zgreen::JoinAll;
use zgreen::process::relay::{self, Relay};

/// Runs in the child process.
fn relay(pipe: Relay) -> zgreen::Result<()> {
    for i in 0..10 {
        let msg: String = pipe.get()?;
        pipe.put(&format!("{msg} in {i}"))?;
    }
    Ok(())
}

fn main() -> zgreen::Result<()> {
    relay::register("relay", relay);
    relay::dispatch(); // in the child: runs `relay`, then exits

    let process = Rc::new(relay::spawn("relay")?);

    let to_process = process.clone();
    let put_msg = move || -> zgreen::Result<()> {
        for _ in 0..10 {
            to_process.put("hi")?;
        }
        Ok(())
    };

    let from_process = process.clone();
    let get_msg = move || -> zgreen::Result<()> {
        for _ in 0..10 {
            let msg: String = from_process.get()?;
            println!("{msg}");
        }
        Ok(())
    };

    let greenlets = [zgreen::spawn(get_msg).any(), zgreen::spawn(put_msg).any()];
    zgreen::joinall_with(greenlets, JoinAll::new().timeout(Duration::from_secs(5)))?;

    let status = process.join_timeout(Duration::from_secs(5))?;
    assert!(status.success(), "the relay child failed: {status}");
    Ok(())
}
