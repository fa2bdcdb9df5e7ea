//! Program shutdown (the tutorial's SIGQUIT example): a signal handler,
//! itself a greenlet, kills the greenlet that would otherwise sleep for
//! 1000 s, and `main` returns normally.
//!
//! Run it, then send `kill -QUIT <pid>` from another terminal.

use std::io::Write;
use std::time::Duration;

fn run_forever() -> zgreen::Result<()> {
    zgreen::sleep(Duration::from_secs(1000))
}

fn main() -> zgreen::Result<()> {
    let thread = zgreen::spawn(run_forever);

    // The handler runs in a new greenlet each time SIGQUIT arrives; while it
    // is installed, SIGQUIT no longer ends the process with a core dump.
    let victim = thread.clone();
    zgreen::signal_handler(libc::SIGQUIT, move || {
        let _ = victim.kill();
    })?;

    println!("waiting for SIGQUIT (pid {})", std::process::id());
    std::io::stdout().flush()?;

    thread.join()?;
    if thread.killed() {
        println!("run_forever was killed; exiting cleanly");
    }
    Ok(())
}
