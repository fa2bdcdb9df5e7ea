//! Builds libzmq 4.3.4 from `zeromq-src` with CURVE and the draft API.
//!
//! zgreen's change to zmq-sys 0.12.0, whose script called
//! `with_libsodium(None)` (CURVE compiled out). libsodium comes from
//! `libsodium-sys-stable`, a dependency of this crate: its build script
//! compiles the release tarball it ships (signature checked against the
//! libsodium release key) into a static library and reports where the
//! headers and the library are (`links = "sodium"`, hence `DEP_SODIUM_*`).

use std::env;
use std::path::PathBuf;

fn dep(name: &str) -> PathBuf {
    match env::var_os(name) {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "{} is not set: libsodium-sys-stable did not report its build \
             (with SODIUM_LIB_DIR it reports no directories; use SODIUM_USE_PKG_CONFIG \
             or neither)",
            name
        ),
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build/main.rs");
    println!("cargo:rerun-if-env-changed=PROFILE");
    let include = dep("DEP_SODIUM_INCLUDE");
    let lib = dep("DEP_SODIUM_LIB");
    // zeromq-src prints this search path quoted (`{:?}`), which rustc
    // cannot use: print it as it should be.
    println!("cargo:rustc-link-search=native={}", lib.display());
    zeromq_src::Build::new()
        .with_libsodium(Some(zeromq_src::LibLocation::new(lib, include)))
        // The draft API (CLIENT/SERVER, RADIO/DISH, zmq_poller_fd, ...):
        // built in, declared to Rust by the crates that use it.
        .enable_draft(true)
        .build();
}
