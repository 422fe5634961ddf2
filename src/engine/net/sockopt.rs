//! The few socket options socket2 does not wrap (IP_RECVTTL, IP_PKTINFO,
//! IPV6_CHECKSUM, IPV6_RECVPKTINFO, IP_MULTICAST_IF by index).

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `setsockopt(fd, level, name, &value, sizeof value)` for any plain-old-data value.
pub(crate) fn set<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(mem::size_of::<T>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `fd` is a live descriptor (the borrow guarantees it stays open for the
    // call); the pointer and length describe `value`, a Copy value on our stack that
    // outlives the call, and the kernel only reads `len` bytes from it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const T).cast::<libc::c_void>(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Boolean options are `int` 0/1 in the kernel ABI.
pub(crate) fn set_flag(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    on: bool,
) -> io::Result<()> {
    set::<libc::c_int>(fd, level, name, libc::c_int::from(on))
}
