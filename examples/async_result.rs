//! `AsyncResult`: a value handed from one greenlet to another, set in the
//! future (the tutorial's AsyncResult example), and the same value set
//! from another OS thread. The setter sleeps 300 ms where the seed sleeps
//! 3 s.

use std::time::Duration;

use zgreen::sync::AsyncResult;

fn main() -> zgreen::Result<()> {
    let a = AsyncResult::new();

    // After a while, set the result of `a`.
    let setter = {
        let a = a.clone();
        zgreen::spawn(move || -> zgreen::Result<()> {
            zgreen::sleep(Duration::from_millis(300))?;
            a.set("Hello!");
            Ok(())
        })
    };

    // The get call unblocks once the setter has put a value into `a`.
    let waiter = {
        let a = a.clone();
        zgreen::spawn(move || -> zgreen::Result<()> {
            println!("{}", a.get()?);
            Ok(())
        })
    };

    zgreen::joinall([setter.any(), waiter.any()])?;
    setter.get()??;
    waiter.get()??;

    // An OS thread sets a result through a sender; the hub wakes up for it.
    let from_thread = AsyncResult::new();
    let sender = from_thread.sender();
    std::thread::spawn(move || sender.set("Hello from another thread!"));
    println!("{}", from_thread.get()?);
    Ok(())
}
