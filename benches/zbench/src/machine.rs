//! What the runner reports about the machine, and the RSS probe.

use std::fs;
use std::process::Command;

/// The resident set size of this process, in bytes (`VmRSS` of
/// `/proc/self/status`).
pub fn vm_rss_bytes() -> Result<u64, String> {
    let status = fs::read_to_string("/proc/self/status").map_err(|e| format!("/proc/self/status: {e}"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS line in /proc/self/status")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("cannot parse {line:?}"))?;
    Ok(kib * 1024)
}

/// Number of memory mappings of this process (lines of `/proc/self/maps`).
pub fn map_count() -> Option<u64> {
    fs::read_to_string("/proc/self/maps")
        .ok()
        .map(|m| m.lines().count() as u64)
}

/// Facts printed above the results table.
#[derive(Debug, Clone)]
pub struct Machine {
    pub nproc: String,
    pub cpu_model: String,
    pub kernel: String,
    pub max_map_count: String,
    pub rustc: String,
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
        }
    }
}
