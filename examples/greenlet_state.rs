//! A greenlet's state flags: `started()`, `ready()`, `successful()`,
//! `value()` and `exception()` (the tutorial's win/fail example).

fn win() -> &'static str {
    "You win!"
}

fn fail() -> &'static str {
    panic!("You fail at failing.")
}

fn main() -> zgreen::Result<()> {
    let winner = zgreen::spawn(win);
    let loser = zgreen::spawn(fail);

    println!("{}", winner.started()); // true
    println!("{}", loser.started()); // true

    // A panic inside a greenlet stays inside that greenlet.
    if zgreen::joinall([&winner, &loser]).is_err() {
        println!("This will never be reached");
    }

    println!("{:?}", winner.value()); // Some("You win!")
    println!("{:?}", loser.value()); // None

    println!("{}", winner.ready()); // true
    println!("{}", loser.ready()); // true

    println!("{}", winner.successful()); // true
    println!("{}", loser.successful()); // false

    // The panic in `fail` does not propagate outside the greenlet. The hub
    // reported it once on stderr; here it is as an error value.
    if let Some(err) = loser.exception() {
        println!("{err}");
    }

    // `loser.get()` returns the same error, to handle or to pass on with `?`.
    assert!(loser.get().is_err());
    Ok(())
}
