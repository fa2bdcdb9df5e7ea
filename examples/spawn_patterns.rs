//! The ways to create a greenlet (the tutorial's "Spawning Greenlets"):
//! `Greenlet::spawn`, `zgreen::spawn`, a closure, and a type implementing
//! `zgreen::Run` (gevent's `Greenlet` subclass overriding `_run`).

use std::time::Duration;

use zgreen::{Greenlet, Run};

/// Each greenlet gets a message and how long to sleep before printing it.
fn foo(message: &str, n: Duration) -> zgreen::Result<()> {
    zgreen::sleep(n)?;
    println!("{message}");
    Ok(())
}

fn spawn_functions() -> zgreen::Result<()> {
    // A Greenlet from a named function and its arguments.
    let thread1 = Greenlet::spawn(|| foo("Hello", Duration::from_millis(100)));

    // The same through the module-level wrapper.
    let thread2 = zgreen::spawn(|| foo("I live!", Duration::from_millis(200)));

    // A closure (Python's lambda).
    let x = 2;
    let thread3 = zgreen::spawn(move || x + 1);

    // Block until all the greenlets have finished. Their result types
    // differ, so pass type-erased handles.
    zgreen::joinall([thread1.any(), thread2.any(), thread3.any()])?;

    // Each body's own `Result` is its value.
    thread1.get()??;
    thread2.get()??;
    assert_eq!(thread3.get()?, 3);
    Ok(())
}

/// gevent's `class MyGreenlet(Greenlet)` with a `_run` method.
struct MyGreenlet {
    message: String,
    n: Duration,
}

impl MyGreenlet {
    fn new(message: &str, n: Duration) -> MyGreenlet {
        MyGreenlet {
            message: message.to_string(),
            n,
        }
    }
}

impl Run for MyGreenlet {
    type Output = zgreen::Result<()>;

    fn run(self) -> zgreen::Result<()> {
        println!("{}", self.message);
        zgreen::sleep(self.n)
    }
}

fn subclass() -> zgreen::Result<()> {
    let g = Greenlet::from_run(MyGreenlet::new("Hi there!", Duration::from_millis(300)));
    g.start();
    g.join()?;
    g.get()?
}

fn main() -> zgreen::Result<()> {
    spawn_functions()?;
    subclass()
}
