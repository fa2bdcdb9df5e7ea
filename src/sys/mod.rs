//! Raw file descriptors and system calls: the only place (besides the zmq
//! crate) where zgreen talks to the OS through FFI.
//!
//! Every function here turns `-1` into an [`io::Error`] through
//! [`syscall!`], and every `unsafe` block names the invariant that makes it
//! sound. Callers above this module never see a raw `-1` or `errno`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Calls a libc function and maps a `-1` result to the current `errno`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: every caller passes arguments that satisfy the named
        // libc function's contract, as its own SAFETY comment states.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 { Err(io::Error::last_os_error()) } else { Ok(res) }
    }};
}

/// A duplicate of `fd` (close-on-exec), owned by the caller.
///
/// zgreen registers the duplicate, not the caller's fd, with the hub: epoll
/// keys registrations by (fd, open file), so the duplicate can be watched
/// even while the original is registered elsewhere, and deregistering it
/// never disturbs the original.
pub(crate) fn dup_cloexec(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // `fcntl(F_DUPFD_CLOEXEC)` only reads `fd`, which the borrow keeps open.
    let new = syscall!(fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0))?;
    // SAFETY: `new` was just returned by the kernel as a fresh descriptor
    // that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Readiness of one fd, as found by [`poll_now`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    /// A read would not block (data, end of file, or an error).
    pub readable: bool,
    /// A write would not block (room, or an error).
    pub writable: bool,
    /// The fd reported an error (`POLLERR`), or is not open (`POLLNVAL`).
    pub error: bool,
}

/// The current readiness of `fds` (a `poll(2)` with a zero timeout: never
/// blocks). `want` says which directions matter for each fd; an fd that
/// reports an error or hang-up counts as ready in every wanted direction.
pub(crate) fn poll_now(fds: &[(RawFd, bool, bool)]) -> io::Result<Vec<Ready>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, r, w)| libc::pollfd {
            fd,
            events: (if r { libc::POLLIN } else { 0 }) | (if w { libc::POLLOUT } else { 0 }),
            revents: 0,
        })
        .collect();
    loop {
        // `pfds` is a valid, exclusively borrowed array of `pfds.len()`
        // pollfd structs; poll(2) only writes their `revents` fields.
        match syscall!(poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 0)) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(pfds
        .iter()
        .zip(fds)
        .map(|(p, &(_, r, w))| {
            if p.revents & libc::POLLNVAL != 0 {
                return Ready {
                    error: true,
                    ..Ready::default()
                };
            }
            let broken = p.revents & (libc::POLLERR | libc::POLLHUP) != 0;
            Ready {
                readable: r && (broken || p.revents & (libc::POLLIN | libc::POLLRDHUP) != 0),
                writable: w && (broken || p.revents & libc::POLLOUT != 0),
                error: p.revents & libc::POLLERR != 0,
            }
        })
        .collect())
}

/// A pidfd for child `pid` (Linux ≥ 5.3): readable once the child exits.
pub(crate) fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: pidfd_open(2) takes a pid and flags by value and returns a new
    // descriptor or -1; it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // Set close-on-exec (pidfd_open's fds have it by default since 5.3,
    // but say it explicitly: a child must never inherit another's pidfd).
    syscall!(fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC))?;
    // SAFETY: `fd` was just returned by pidfd_open as a fresh descriptor
    // that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends `signal` to the process behind `pidfd` (immune to pid reuse).
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    // SAFETY: pidfd_send_signal(2) with a null siginfo pointer reads no
    // memory of ours; the borrow keeps the pidfd open during the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `signal` to process `pid`. The caller guarantees that `pid` is a
/// child it has not reaped yet (so the pid cannot have been reused).
pub(crate) fn kill(pid: u32, signal: i32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // kill(2) takes plain integers and touches no memory of ours.
    syscall!(kill(pid, signal)).map(drop)
}

/// Marks every descriptor from 3 up as close-on-exec, then clears the flag
/// on `keep`: after `exec`, the new program holds stdio and `keep` only.
///
/// # Safety
///
/// Runs in a forked child between `fork` and `exec` (a `pre_exec` hook), so
/// it only makes async-signal-safe system calls and never allocates. The
/// caller guarantees that `keep` is open in the child.
pub(crate) unsafe fn keep_only_fd_across_exec(keep: RawFd) -> io::Result<()> {
    // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only sets a flag on
    // descriptors; it is a plain system call, safe after fork.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc < 0 {
        // Kernels before 5.11: walk the descriptor table by hand.
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // `limit` is a valid, exclusively borrowed rlimit struct.
        syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut limit))?;
        let max = RawFd::try_from(limit.rlim_cur.min(1 << 20)).unwrap_or(1 << 20);
        for fd in 3..max {
            // Setting FD_CLOEXEC on a closed fd fails with EBADF: ignored.
            let _ = syscall!(fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC));
        }
    }
    // `keep` is open (caller's contract); F_SETFD only changes its flags.
    syscall!(fcntl(keep, libc::F_SETFD, 0)).map(drop)
}

/// Takes ownership of a descriptor this process inherited from its parent
/// (a relay child's end of the socket pair), and marks it close-on-exec so
/// that it goes no further.
///
/// # Safety
///
/// The caller guarantees that `fd` was handed to this process for it to own
/// (its number came from the parent that created it) and that no other
/// object of this process owns it.
pub(crate) unsafe fn adopt_inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // F_SETFD on a closed fd fails with EBADF, which catches a wrong number.
    syscall!(fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC))?;
    // SAFETY: the fd is open (checked just above) and, by the caller's
    // contract, owned by nothing else in this process.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The inode number of the file open on descriptor `fd`.
pub(crate) fn fd_inode(fd: RawFd) -> io::Result<u64> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // `st` is a valid, exclusively borrowed buffer for one `struct stat`;
    // fstat(2) fills it or fails (EBADF for a closed fd).
    syscall!(fstat(fd, st.as_mut_ptr()))?;
    // SAFETY: fstat returned 0, so it initialised the whole struct.
    let st = unsafe { st.assume_init() };
    Ok(st.st_ino)
}

/// Changes the accept-queue length of a listening socket (calling
/// `listen(2)` again is how Linux resizes it; the kernel caps it at
/// `net.core.somaxconn`).
pub(crate) fn set_listen_backlog(fd: BorrowedFd<'_>, backlog: i32) -> io::Result<()> {
    // listen(2) takes two integers; the borrow keeps the fd open.
    syscall!(listen(fd.as_raw_fd(), backlog)).map(drop)
}

/// Makes closing a TCP socket reset the connection (`SO_LINGER` on, with
/// a linger time of 0) instead of ending it cleanly: for a response cut
/// short, which the peer must not take for a complete one.
#[cfg(feature = "http")]
pub(crate) fn reset_on_close(fd: BorrowedFd<'_>) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `linger` is a valid `struct linger` that outlives the call,
    // its size is passed, and the borrow keeps the fd open.
    syscall!(setsockopt(
        fd.as_raw_fd(),
        libc::SOL_SOCKET,
        libc::SO_LINGER,
        (&linger as *const libc::linger).cast(),
        std::mem::size_of::<libc::linger>() as libc::socklen_t
    ))
    .map(drop)
}
