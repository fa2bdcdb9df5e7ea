//! What `/proc` tells about a process.

use std::io;

/// The resident set size of process `pid`, in bytes: the `VmRSS` line of
/// `/proc/<pid>/status` (`std::process::id()` for this process).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no VmRSS line in /proc/{pid}/status"),
            )
        })?;
    Ok(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_a_resident_set() {
        let rss = super::rss_bytes(std::process::id()).unwrap();
        assert!(rss > 64 * 1024, "{rss}");
    }
}
