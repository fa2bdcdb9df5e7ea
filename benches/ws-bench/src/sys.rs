//! The two system calls the benchmark needs: the process's CPU time
//! (`getrusage`) and the open-file limit (`getrlimit`/`setrlimit`).

use std::io;
use std::time::Duration;

/// CPU time used by this process so far (all its threads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// Time spent in user mode.
    pub user: Duration,
    /// Time spent in the kernel on the process's behalf.
    pub system: Duration,
}

impl CpuTime {
    /// The process's CPU time now (`getrusage(RUSAGE_SELF)`).
    pub fn now() -> CpuTime {
        // SAFETY: `rusage` is a plain C struct of integers, for which all
        // zero bytes is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid, writable `rusage` that outlives the
        // call; RUSAGE_SELF is a valid `who`.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        assert_eq!(rc, 0, "getrusage(RUSAGE_SELF) cannot fail");
        let dur = |tv: libc::timeval| {
            Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
        };
        CpuTime {
            user: dur(usage.ru_utime),
            system: dur(usage.ru_stime),
        }
    }

    /// The CPU time used between `earlier` and `self`.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    /// User plus system time, in seconds.
    pub fn total_s(self) -> f64 {
        (self.user + self.system).as_secs_f64()
    }
}

/// Makes sure this process may open at least `needed` file descriptors:
/// raises the soft `RLIMIT_NOFILE` (up to the hard limit) if it is lower.
/// Fails with a message naming both limits if the hard limit is too low.
pub fn ensure_open_files(needed: u64) -> Result<(), String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit` that outlives the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!(
            "getrlimit(RLIMIT_NOFILE): {}",
            io::Error::last_os_error()
        ));
    }
    if lim.rlim_cur >= needed {
        return Ok(());
    }
    if lim.rlim_max < needed {
        return Err(format!(
            "need {needed} open files but the hard limit (ulimit -Hn) is {}; raise it, or use fewer clients",
            lim.rlim_max
        ));
    }
    let raised = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: `raised` is a valid `rlimit` that outlives the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(format!(
            "setrlimit(RLIMIT_NOFILE, {}): {} (need {needed} open files)",
            lim.rlim_max,
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// This machine's load averages (`/proc/loadavg`, first three fields), or
/// `"?"` where it cannot be read.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}
