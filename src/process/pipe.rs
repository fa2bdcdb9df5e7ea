//! Green pipe ends: a child's stdin, stdout and stderr (and any
//! `std::io::pipe`).

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::error::Result;
use crate::net::evented::{Dir, Evented};

/// The read end of a pipe, whose reads park the calling greenlet (a
/// child's stdout or stderr). Implements [`Read`] for `T` and `&T`.
///
/// ```
/// use std::io::{Read, Write};
///
/// let (r, mut w) = std::io::pipe().unwrap();
/// let mut r = zgreen::process::PipeReader::from_std(r).unwrap();
/// let writer = zgreen::spawn(move || w.write_all(b"through the pipe"));
/// let mut s = String::new();
/// r.read_to_string(&mut s).unwrap();
/// assert_eq!(s, "through the pipe");
/// writer.take().unwrap().unwrap();
/// ```
pub struct PipeReader {
    io: Evented<mio::unix::pipe::Receiver>,
}

/// The write end of a pipe, whose writes park the calling greenlet (a
/// child's stdin). Implements [`Write`] for `T` and `&T`. Drop it to
/// close the pipe (the reader then sees end of file).
pub struct PipeWriter {
    io: Evented<mio::unix::pipe::Sender>,
}

/// A child's standard input (see [`Child::stdin`](super::Child::stdin)).
pub type ChildStdin = PipeWriter;
/// A child's standard output (see [`Child::stdout`](super::Child::stdout)).
pub type ChildStdout = PipeReader;
/// A child's standard error (see [`Child::stderr`](super::Child::stderr)).
pub type ChildStderr = PipeReader;

impl fmt::Debug for PipeReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeReader")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl fmt::Debug for PipeWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeWriter")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl PipeReader {
    /// Wraps the read end of a pipe (switched to nonblocking mode).
    pub fn from_std(r: impl Into<OwnedFd>) -> Result<PipeReader> {
        let r = mio::unix::pipe::Receiver::from(r.into());
        r.set_nonblocking(true)?;
        Ok(PipeReader {
            io: Evented::new(r, mio::Interest::READABLE)?,
        })
    }

    /// Bounds every later read to `timeout`; `None` waits forever.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        self.io.set_read_timeout(timeout);
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.io.read_timeout()
    }

    /// Reads into `buf`, parking until at least one byte is available;
    /// `Ok(0)` means end of file (every write end is closed).
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.io
            .io_op(Dir::Read, self.io.read_deadline(), |mut r| r.read(buf))
    }

    /// Reads until end of file, appending to `out`; returns how many bytes
    /// were read. The read timeout bounds each read, not the whole call.
    pub fn recv_to_end(&self, out: &mut Vec<u8>) -> Result<usize> {
        let start = out.len();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = self.recv(&mut chunk)?;
            if n == 0 {
                return Ok(out.len() - start);
            }
            out.extend_from_slice(&chunk[..n]);
        }
    }
}

impl PipeWriter {
    /// Wraps the write end of a pipe (switched to nonblocking mode).
    pub fn from_std(w: impl Into<OwnedFd>) -> Result<PipeWriter> {
        let w = mio::unix::pipe::Sender::from(w.into());
        w.set_nonblocking(true)?;
        Ok(PipeWriter {
            io: Evented::new(w, mio::Interest::WRITABLE)?,
        })
    }

    /// Bounds every later write to `timeout`; `None` waits forever.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) {
        self.io.set_write_timeout(timeout);
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.io.write_timeout()
    }

    /// Writes some of `buf`, parking until the pipe has room; returns how
    /// many bytes were written. A closed read end is a `BrokenPipe` error.
    pub fn send(&self, buf: &[u8]) -> Result<usize> {
        self.io
            .io_op(Dir::Write, self.io.write_deadline(), |mut w| w.write(buf))
    }

    /// Writes all of `buf`, parking as often as needed (so a buffer larger
    /// than the pipe's capacity never blocks the thread). The write timeout
    /// bounds the whole call.
    pub fn send_all(&self, buf: &[u8]) -> Result<()> {
        let deadline = self.io.write_deadline();
        let mut done = 0;
        while done < buf.len() {
            done += self
                .io
                .io_op(Dir::Write, deadline, |mut w| w.write(&buf[done..]))?;
        }
        Ok(())
    }
}

impl Read for &PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf).map_err(crate::net::error_into_io)
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for &PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf).map_err(crate::net::error_into_io)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.send_all(buf).map_err(crate::net::error_into_io)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for PipeReader {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for PipeReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for PipeWriter {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for PipeWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}
