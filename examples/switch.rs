//! Explicit context switches between two greenlets with `sleep(0)`
//! (the tutorial's foo/bar example).

use std::time::Duration;

fn foo() -> zgreen::Result<()> {
    println!("Running in foo");
    zgreen::sleep(Duration::ZERO)?;
    println!("Explicit context switch to foo again");
    Ok(())
}

fn bar() -> zgreen::Result<()> {
    println!("Explicit context to bar");
    zgreen::sleep(Duration::ZERO)?;
    println!("Implicit context switch back to bar");
    Ok(())
}

fn main() -> zgreen::Result<()> {
    zgreen::joinall([zgreen::spawn(foo), zgreen::spawn(bar)])
}
