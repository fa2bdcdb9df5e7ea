//! What the runner reports about the machine, and the RSS probe.

use std::fs;
use std::process::Command;

/// The resident set size of this process, in bytes (`VmRSS` of
/// `/proc/self/status`).
pub fn vm_rss_bytes() -> Result<u64, String> {
    zgreen_harness::rss_bytes(std::process::id()).map_err(|e| e.to_string())
}

/// Number of memory mappings of this process (lines of `/proc/self/maps`).
pub fn map_count() -> Option<u64> {
    fs::read_to_string("/proc/self/maps")
        .ok()
        .map(|m| m.lines().count() as u64)
}

/// Which pages of the coroutine stacks are resident: for every private
/// read-write mapping of exactly `stack_bytes` (a greenlet stack; its guard
/// page is a separate mapping), asks `mincore` which pages are in memory.
/// Returns (stacks found, mean resident pages per stack, share of stacks
/// whose lowest page is resident, share whose highest page is resident).
pub fn stack_residency(stack_bytes: usize) -> Option<(u64, f64, f64, f64)> {
    let page = 4096;
    let pages = stack_bytes / page;
    if pages == 0 {
        return None;
    }
    let maps = fs::read_to_string("/proc/self/maps").ok()?;
    let (mut stacks, mut resident, mut bottom, mut top) = (0u64, 0u64, 0u64, 0u64);
    let mut vec = vec![0u8; pages];
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        // Anonymous mappings only (no path after the inode field).
        if perms != "rw-p" || f.nth(3).is_some() {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            continue;
        };
        if b - a != stack_bytes {
            continue;
        }
        // SAFETY: `vec` holds one byte per page of the `stack_bytes` range
        // that mincore writes; mincore only reads page tables and fails
        // with ENOMEM (no other effect) if the range was unmapped meanwhile.
        let rc = unsafe { libc::mincore(a as *mut libc::c_void, stack_bytes, vec.as_mut_ptr()) };
        if rc != 0 {
            continue;
        }
        stacks += 1;
        resident += vec.iter().filter(|&&v| v & 1 == 1).count() as u64;
        bottom += u64::from(vec[0] & 1);
        top += u64::from(vec[pages - 1] & 1);
    }
    if stacks == 0 {
        return None;
    }
    let n = stacks as f64;
    Some((stacks, resident as f64 / n, bottom as f64 / n, top as f64 / n))
}

/// Facts printed above the results table.
#[derive(Debug, Clone)]
pub struct Machine {
    pub nproc: String,
    pub cpu_model: String,
    pub kernel: String,
    pub max_map_count: String,
    pub rustc: String,
    /// `/proc/loadavg` when the runner started (other work on the machine
    /// adds noise).
    pub loadavg: String,
}

/// The first three fields of `/proc/loadavg`.
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn first_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout);
    s.lines().next().map(|l| l.trim().to_string())
}

impl Machine {
    pub fn probe() -> Machine {
        let nproc = first_line("nproc", &[]).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "?".into())
        });
        let cpu_model = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "?".into());
        let read = |p: &str| {
            fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "?".into())
        };
        Machine {
            nproc,
            cpu_model,
            kernel: read("/proc/sys/kernel/osrelease"),
            max_map_count: read("/proc/sys/vm/max_map_count"),
            rustc: first_line("rustc", &["--version"]).unwrap_or_else(|| "?".into()),
            loadavg: loadavg(),
        }
    }
}
