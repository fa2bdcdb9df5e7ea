//! Greenlet-local storage (the tutorial's "Thread Locals" example): what
//! one greenlet stores in a `Local` is invisible to the others.

use zgreen::local::Local;

// gevent's `stash = local()` holds attributes; here, one `Local` each.
static X: Local<i32> = Local::new();
static Y: Local<i32> = Local::new();

fn f1() {
    X.set(1);
    println!("{}", X.get().unwrap());
}

fn f2() {
    Y.set(2);
    println!("{}", Y.get().unwrap());

    if X.get().is_none() {
        println!("x is not local to f2");
    }
}

fn main() -> zgreen::Result<()> {
    let g1 = zgreen::spawn(f1);
    let g2 = zgreen::spawn(f2);

    zgreen::joinall([g1, g2])
}
