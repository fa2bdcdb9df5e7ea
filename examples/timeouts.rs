//! Timeouts (the tutorial's "Timeouts" section): a `Timeout` scope around
//! blocking calls, a timeout carrying a custom error, the three ways to
//! bound a join, and the `*_timeout` methods.

use std::time::Duration;

use zgreen::Timeout;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn wait() -> zgreen::Result<()> {
    zgreen::sleep(ms(200))
}

/// A `Timeout` scope: every blocking call in it fails once it expires.
fn could_not_complete() -> zgreen::Result<()> {
    // `start` arms the timer and hands the guard back: keep it alive, since
    // dropping it (leaving the scope) cancels the timer.
    let timeout = Timeout::new(ms(100));
    let timeout = timeout.start();

    match zgreen::spawn(wait).join() {
        Err(e) if timeout.is(&e) => println!("Could not complete"),
        other => other?,
    }
    Ok(())
}

/// The custom error a timeout can carry (gevent's `Timeout(5, TooLong)`).
#[derive(Debug, thiserror::Error)]
#[error("took too long")]
struct TooLong;

fn too_long() -> zgreen::Result<()> {
    let _timeout = Timeout::with_error(ms(100), TooLong).start();
    match zgreen::sleep(ms(200)) {
        Err(e) if e.timeout_payload::<TooLong>().is_some() => println!("TooLong raised: {e}"),
        other => other?,
    }
    Ok(())
}

fn thread1() -> zgreen::Result<()> {
    let timer = Timeout::new(ms(100)).start();
    let thread1 = zgreen::spawn(wait);

    match thread1.join() {
        Err(e) if timer.is(&e) => println!("Thread 1 timed out"),
        other => other?,
    }
    Ok(())
}

fn thread2() -> zgreen::Result<()> {
    let timer = Timeout::start_new(ms(100));
    let thread2 = zgreen::spawn(wait);

    match thread2.get() {
        Err(e) if timer.is(&e) => println!("Thread 2 timed out"),
        other => other??,
    }
    Ok(())
}

fn thread3() -> zgreen::Result<()> {
    match zgreen::with_timeout(ms(100), wait) {
        Err(e) if e.is_timeout() => println!("Thread 3 timed out"),
        other => other?,
    }
    Ok(())
}

/// Deadlines passed to the call itself, without a scope.
fn call_deadlines() -> zgreen::Result<()> {
    let slow = zgreen::spawn(wait);
    match slow.join_timeout(ms(100)) {
        Err(e) if e.is_timeout() => println!("join_timeout: {e}"),
        other => other?,
    }
    match slow.get_timeout(ms(50)) {
        Err(e) if e.is_timeout() => println!("get_timeout: {e}"),
        other => other??,
    }
    // Given enough time, the same greenlet finishes.
    slow.get_timeout(ms(1000))??;
    println!("get_timeout: finished in time");
    Ok(())
}

fn main() -> zgreen::Result<()> {
    could_not_complete()?;
    too_long()?;
    thread1()?;
    thread2()?;
    thread3()?;
    call_deadlines()
}
