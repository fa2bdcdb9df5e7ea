//! The seed's `Subprocess` example: a `cron` greenlet keeps printing while
//! a child process runs `sleep 1; uname`; waiting for the child parks only
//! the root context, so `cron` gets its five turns.

use std::time::Duration;

use zgreen::process::Command;

fn cron() {
    loop {
        println!("cron");
        if zgreen::sleep(Duration::from_millis(200)).is_err() {
            return; // killed
        }
    }
}

fn main() -> zgreen::Result<()> {
    let g = zgreen::spawn(cron);
    let sub = Command::shell("sleep 1; uname").output()?;
    g.kill()?;
    println!("{}", String::from_utf8_lossy(&sub.stdout).trim_end());
    Ok(())
}
