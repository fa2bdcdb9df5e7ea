//! What the TCP and Unix stream types share, written once: finishing a
//! nonblocking connect, and the byte-stream operations (`recv`, `send`,
//! ... on an [`Evented`] of a [`ByteStream`]). `TcpStream` and
//! `UnixStream` each write out their public methods as one-line calls of
//! these, so every public method has its own `pub fn` in `tcp.rs` or
//! `unix.rs`.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;

use super::evented::Evented;
use crate::error::Result;
use crate::hub::Deadline;

impl<S: mio::event::Source> Evented<S> {
    /// Parks until the nonblocking connect of the source has finished:
    /// `Ok` once it has a peer, else the connect's error. `take_error`
    /// and `peer_addr` are the socket type's own methods.
    pub(crate) fn wait_connected<A>(
        &self,
        deadline: Option<Deadline>,
        take_error: impl Fn(&S) -> io::Result<Option<io::Error>>,
        peer_addr: impl Fn(&S) -> io::Result<A>,
    ) -> Result<()> {
        loop {
            // The socket becomes writable once the connect has finished
            // (for TCP, the handshake), successfully or not.
            self.wait_writable(deadline)?;
            if let Some(e) = take_error(self.get_ref())? {
                return Err(e.into());
            }
            match peer_addr(self.get_ref()) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => self.clear_writable(),
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => self.clear_writable(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// A nonblocking `mio` byte-stream socket (`mio::net::TcpStream`,
/// `mio::net::UnixStream`): one read or write attempt through `&self`.
pub(crate) trait ByteStream: mio::event::Source + AsRawFd {
    /// One `read(2)`; `WouldBlock` when nothing is queued.
    fn read_once(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// One `write(2)`; `WouldBlock` when the send buffer is full.
    fn write_once(&self, buf: &[u8]) -> io::Result<usize>;
}

impl ByteStream for mio::net::TcpStream {
    fn read_once(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self).read(buf)
    }

    fn write_once(&self, buf: &[u8]) -> io::Result<usize> {
        (&mut &*self).write(buf)
    }
}

impl ByteStream for mio::net::UnixStream {
    fn read_once(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self).read(buf)
    }

    fn write_once(&self, buf: &[u8]) -> io::Result<usize> {
        (&mut &*self).write(buf)
    }
}

/// The byte-stream operations of `TcpStream` and `UnixStream`; their
/// public methods of the same names call these (see their docs).
impl<S: ByteStream> Evented<S> {
    /// Reads into `buf`, parking until at least one byte is available or
    /// `deadline` passes; `Ok(0)` is end of file.
    pub(crate) fn recv_deadline(&self, buf: &mut [u8], deadline: Option<Deadline>) -> Result<usize> {
        let want = buf.len();
        self.read_op_stream(deadline, want, |s| s.read_once(buf))
    }

    /// Reads exactly `buf.len()` bytes by `deadline`; end of file first is
    /// an `UnexpectedEof` I/O error.
    pub(crate) fn recv_exact_deadline(&self, buf: &mut [u8], deadline: Option<Deadline>) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.recv_deadline(&mut buf[done..], deadline)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            done += n;
        }
        Ok(())
    }

    /// Appends up to `max` bytes to `buf`, read into its spare capacity
    /// (nothing is zero-filled first), parking until at least one byte is
    /// available or `deadline` passes.
    #[cfg(any(feature = "http", feature = "process"))]
    pub(crate) fn recv_append_deadline(
        &self,
        buf: &mut Vec<u8>,
        max: usize,
        deadline: Option<Deadline>,
    ) -> Result<usize> {
        buf.reserve(max);
        self.read_op_stream(deadline, max, |s| {
            let spare = buf.spare_capacity_mut();
            let want = spare.len().min(max);
            // SAFETY: `spare` is allocated, writable memory owned by `buf`
            // and at least `want` bytes long; `recv` writes at most `want`
            // bytes into it and does not keep the pointer.
            let got = unsafe { libc::recv(s.as_raw_fd(), spare.as_mut_ptr().cast(), want, 0) };
            if got < 0 {
                return Err(io::Error::last_os_error());
            }
            let got = got as usize;
            // SAFETY: the kernel initialized the first `got` bytes of the
            // spare capacity, and `got <= want` fits in the capacity.
            unsafe { buf.set_len(buf.len() + got) };
            Ok(got)
        })
    }

    /// Writes some of `buf`, parking until there is room or `deadline`
    /// passes; returns how many bytes were written.
    pub(crate) fn send_deadline(&self, buf: &[u8], deadline: Option<Deadline>) -> Result<usize> {
        self.write_op(deadline, |s| s.write_once(buf))
    }

    /// Writes all of `buf` by `deadline`; on an error, an unknown prefix
    /// may have been sent.
    pub(crate) fn send_all_deadline(&self, buf: &[u8], deadline: Option<Deadline>) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.send_deadline(&buf[done..], deadline)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            done += n;
        }
        Ok(())
    }
}
