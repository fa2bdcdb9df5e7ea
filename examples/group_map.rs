//! A group as a parallel dispatcher, mirroring Python's
//! `multiprocessing`: `map`, ordered `imap` and `imap_unordered` (the
//! tutorial's second `Group` example). `intensive` sleeps tenths of a
//! second where the seed sleeps seconds.

use std::time::Duration;

use zgreen::pool::Group;

fn hello_from(group: &Group) {
    println!("Size of group {}", group.len());
    println!("Hello from Greenlet {}", zgreen::current().id());
}

fn intensive(n: u64) -> zgreen::Result<(&'static str, u64)> {
    zgreen::sleep(Duration::from_millis(100 * (3 - n)))?;
    Ok(("task", n))
}

fn main() -> zgreen::Result<()> {
    let group = Group::new();
    let g = group.clone();
    group.map(move |_| hello_from(&g), 0..3)?;

    println!("Ordered");
    let ogroup = Group::new();
    for i in ogroup.imap(intensive, 0..3) {
        println!("{:?}", i??);
    }

    println!("Unordered");
    let igroup = Group::new();
    for i in igroup.imap_unordered(intensive, 0..3) {
        println!("{:?}", i??);
    }
    Ok(())
}
