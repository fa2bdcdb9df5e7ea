//! Process-wide defaults: stack size, stack pool, panic reporting.
//!
//! Each setting also reads an environment variable once, at first use, so
//! operators can tune a binary without recompiling it. The settings belong
//! to the hub (the kernel); this module is their public face.

pub use crate::hub::settings::{
    DEFAULT_STACK_BYTES, DEFAULT_STACK_POOL_MAX, PanicReport, default_stack_bytes, panic_report,
    set_default_stack_bytes, set_panic_report, set_stack_pool_max, stack_pool_max,
};
pub(crate) use crate::hub::settings::{report_failure, round_stack};
