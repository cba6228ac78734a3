//! Linux errno values as the workload sees them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

macro_rules! errnos {
    ($($name:ident),*) => { impl Errno { $(pub const $name: Errno = Errno(libc::$name);)* } };
}
errnos!(
    EPERM,
    ENOENT,
    ESRCH,
    EINTR,
    EIO,
    ENXIO,
    E2BIG,
    ENOEXEC,
    EBADF,
    ECHILD,
    EAGAIN,
    ENOMEM,
    EACCES,
    EFAULT,
    EBUSY,
    EEXIST,
    EXDEV,
    ENODEV,
    ENOTDIR,
    EISDIR,
    EINVAL,
    ENFILE,
    EMFILE,
    ENOTTY,
    EFBIG,
    ENOSPC,
    ESPIPE,
    EROFS,
    EMLINK,
    EPIPE,
    ERANGE,
    ENAMETOOLONG,
    ENOSYS,
    ENOTEMPTY,
    ELOOP,
    ENODATA,
    EOVERFLOW,
    ENOTSOCK,
    EOPNOTSUPP,
    ETIMEDOUT,
    ECONNREFUSED,
    ENOTCONN,
    EAFNOSUPPORT,
    EADDRINUSE,
    EISCONN,
    EDESTADDRREQ,
    EMSGSIZE,
    EPROTONOSUPPORT,
    ECONNRESET,
    EINPROGRESS,
    EALREADY,
    ENOPROTOOPT,
    ETXTBSY,
    EIDRM,
    ENOMSG,
    EDEADLK,
    ENOLCK,
    EADDRNOTAVAIL,
    ENETUNREACH,
    EHOSTUNREACH,
    ECANCELED
);

impl Errno {
    /// EINVAL when `invalid` (bad index), else ERANGE (bad value).
    pub fn if_range(invalid: bool) -> Errno {
        if invalid {
            Errno::EINVAL
        } else {
            Errno::ERANGE
        }
    }

    pub fn from_io(e: &std::io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
    pub fn last() -> Errno {
        Errno::from_io(&std::io::Error::last_os_error())
    }
}

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Errno {
        Errno::from_io(&e)
    }
}
