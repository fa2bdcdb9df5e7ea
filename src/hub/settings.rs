//! Process-wide settings of the kernel: stack size, stack pool, panic
//! reporting (set through the public façade `zgreen::config`).
//!
//! Each setting also reads an environment variable once, at first use, so
//! operators can tune a binary without recompiling it.

use std::sync::Once;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use super::task::Task;
use crate::error::{Error, PanicError};

/// Default usable stack size of a greenlet: 64 KiB.
pub const DEFAULT_STACK_BYTES: usize = 64 * 1024;
/// Default number of finished coroutine stacks kept for reuse, per hub.
pub const DEFAULT_STACK_POOL_MAX: usize = 16_384;

static STACK_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_STACK_BYTES);
static STACK_POOL_MAX: AtomicUsize = AtomicUsize::new(DEFAULT_STACK_POOL_MAX);
static PANIC_REPORT: AtomicU8 = AtomicU8::new(PanicReport::Stderr as u8);
static ENV: Once = Once::new();

/// How a panic caught at a greenlet boundary is reported (once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PanicReport {
    /// One line on stderr (the default, like gevent's traceback print).
    Stderr = 0,
    /// One `tracing` error event.
    Tracing = 1,
    /// Not reported; `join`/`get` still return the error.
    Silent = 2,
}

fn read_env() {
    ENV.call_once(|| {
        if let Some(n) = env_usize("ZGREEN_STACK_BYTES") {
            STACK_BYTES.store(round_stack(n), Ordering::Relaxed);
        }
        if let Some(n) = env_usize("ZGREEN_STACK_POOL_MAX") {
            STACK_POOL_MAX.store(n, Ordering::Relaxed);
        }
    });
}

fn env_usize(name: &str) -> Option<usize> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => {
            tracing::warn!("zgreen: ignoring {name}={v:?}: not a number");
            None
        }
    }
}

/// Rounds a stack size up to whole pages (at least one page).
pub(crate) fn round_stack(bytes: usize) -> usize {
    let page = 4096;
    bytes.max(page).div_ceil(page) * page
}

/// The default usable stack size for new greenlets, in bytes
/// (`ZGREEN_STACK_BYTES`, default 64 KiB).
pub fn default_stack_bytes() -> usize {
    read_env();
    STACK_BYTES.load(Ordering::Relaxed)
}

/// Sets the default usable stack size for greenlets spawned from now on
/// (rounded up to whole 4 KiB pages).
pub fn set_default_stack_bytes(bytes: usize) {
    read_env();
    STACK_BYTES.store(round_stack(bytes), Ordering::Relaxed);
}

/// How many finished stacks each hub keeps for reuse
/// (`ZGREEN_STACK_POOL_MAX`, default 16 384).
pub fn stack_pool_max() -> usize {
    read_env();
    STACK_POOL_MAX.load(Ordering::Relaxed)
}

/// Sets how many finished stacks each hub keeps for reuse. Idle stacks
/// keep their touched pages resident (typically 8 KiB each).
pub fn set_stack_pool_max(n: usize) {
    read_env();
    STACK_POOL_MAX.store(n, Ordering::Relaxed);
}

/// Chooses how greenlet panics are reported.
pub fn set_panic_report(mode: PanicReport) {
    PANIC_REPORT.store(mode as u8, Ordering::Relaxed);
}

/// The current panic-report mode.
pub fn panic_report() -> PanicReport {
    match PANIC_REPORT.load(Ordering::Relaxed) {
        1 => PanicReport::Tracing,
        2 => PanicReport::Silent,
        _ => PanicReport::Stderr,
    }
}

pub(crate) fn report_panic(p: &PanicError) {
    match panic_report() {
        PanicReport::Stderr => eprintln!("{p}"),
        PanicReport::Tracing => tracing::error!(greenlet = p.greenlet, "{p}"),
        PanicReport::Silent => {}
    }
}

pub(crate) fn report_failure(task: &Task, e: &Error) {
    match panic_report() {
        PanicReport::Stderr => eprintln!("greenlet {} failed: {e}", task.describe()),
        PanicReport::Tracing => tracing::error!(greenlet = task.id, "greenlet failed: {e}"),
        PanicReport::Silent => {}
    }
}
