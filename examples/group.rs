//! A group: greenlets managed and joined together (the tutorial's
//! `Group` example with `talk`).

use zgreen::pool::Group;

fn talk(msg: &'static str) {
    for _ in 0..3 {
        println!("{msg}");
    }
}

fn main() -> zgreen::Result<()> {
    let g1 = zgreen::spawn(|| talk("bar"));
    let g2 = zgreen::spawn(|| talk("foo"));
    let g3 = zgreen::spawn(|| talk("fizz"));

    let group = Group::new();
    group.add(&g1);
    group.add(&g2);
    group.join()?;

    group.add(&g3);
    group.join()
}
