//! A pool: a group that limits how many greenlets run at once (the
//! tutorial's `Pool(2)` example).

use zgreen::pool::Pool;

fn main() -> zgreen::Result<()> {
    let pool = Pool::new(2);

    let p = pool.clone();
    let hello_from = move |_n: u32| {
        println!("Size of pool {}", p.len());
    };

    pool.map(hello_from, 0..3)?;
    Ok(())
}
