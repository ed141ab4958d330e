//! The sockets a primary makes for its workers' servers, bound as libuv
//! binds them for Node's primary (`net._createServerHandle`,
//! `dgram._createSocketHandle`): CLOEXEC, so no worker inherits one.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::net::{
    AddressFamily, SocketAddrUnix, SocketFlags, SocketType, bind, listen, socket_with, sockopt,
};

use super::AddressType;
use super::proto::ServerQuery;

/// libuv's `UV_TCP_IPV6ONLY` / `UV_UDP_IPV6ONLY`.
const IPV6ONLY: u32 = 1;
/// libuv's `UV_UDP_REUSEADDR` (`dgram.createSocket({ reuseAddr: true })`).
const UDP_REUSEADDR: u32 = 4;
/// Node's default backlog (`listen(511)`: the kernel rounds up to 512).
const DEFAULT_BACKLOG: i32 = 511;

/// A socket made for a server.
#[derive(Debug)]
pub(crate) struct Bound {
    pub fd: OwnedFd,
    /// A unix socket path we bound, removed when the server closes (libuv
    /// unlinks the path of a pipe server it closes).
    pub path: Option<PathBuf>,
}

impl Drop for Bound {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds what `query` asks for; listens too when `listen` (round-robin:
/// the primary accepts). A shared TCP or unix socket is sent bound but not
/// listening, as Node's primary sends it: the worker's `listen()` sets the
/// backlog.
pub(crate) fn server(query: &ServerQuery, listen_now: bool) -> io::Result<Bound> {
    if query.fd.is_some() {
        // listen({ fd }) names an fd of the primary's own (Node's primary
        // opens that fd of itself); ours has none to offer.
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    let backlog = query.backlog.unwrap_or(DEFAULT_BACKLOG);
    let (fd, path) = match query.address_type {
        Some(AddressType::Udp4 | AddressType::Udp6) => (udp(query)?, None),
        Some(AddressType::Unix) => unix(query)?,
        _ => (tcp(query)?, None),
    };
    if listen_now && !query.is_udp() {
        listen(&fd, backlog)?;
    }
    Ok(Bound { fd, path })
}

/// A TCP socket on the asked address; with none, on `[::]` (both IPv6 and
/// IPv4, unless `ipv6Only`), else `0.0.0.0`, as Node tries them.
fn tcp(query: &ServerQuery) -> io::Result<OwnedFd> {
    let port = port(query)?;
    let v6only = query.flags & IPV6ONLY != 0;
    match query.address.as_deref().filter(|a| !a.is_empty()) {
        None => tcp_at(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), v6only)
            .or_else(|_| tcp_at(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), false)),
        Some(address) => tcp_at(SocketAddr::new(ip(address)?, port), v6only),
    }
}

fn tcp_at(addr: SocketAddr, v6only: bool) -> io::Result<OwnedFd> {
    let fd = socket_with(
        family(&addr),
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    // libuv sets SO_REUSEADDR on every TCP socket it binds, and IPV6_V6ONLY
    // to the flag on every IPv6 one.
    sockopt::set_socket_reuseaddr(&fd, true)?;
    if addr.is_ipv6() {
        sockopt::set_ipv6_v6only(&fd, v6only)?;
    }
    bind(&fd, &addr)?;
    Ok(fd)
}

/// A UDP socket, bound when an address or port is given (the worker's
/// `dgram` resolved the address already).
fn udp(query: &ServerQuery) -> io::Result<OwnedFd> {
    let v6 = query.address_type == Some(AddressType::Udp6);
    let any: IpAddr = if v6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    };
    let domain = if v6 {
        AddressFamily::INET6
    } else {
        AddressFamily::INET
    };
    let fd = socket_with(domain, SocketType::DGRAM, SocketFlags::CLOEXEC, None)?;
    if query.flags & UDP_REUSEADDR != 0 {
        sockopt::set_socket_reuseaddr(&fd, true)?;
    }
    if v6 && query.flags & IPV6ONLY != 0 {
        sockopt::set_ipv6_v6only(&fd, true)?;
    }
    let address = query.address.as_deref().filter(|a| !a.is_empty());
    if address.is_some() || query.port.is_some_and(|p| p != 0) {
        let ip = address.map_or(Ok(any), ip)?;
        bind(&fd, &SocketAddr::new(ip, port(query)?))?;
    }
    Ok(fd)
}

/// A unix stream socket at the asked path (`\0name`: Linux's abstract
/// namespace), with `readableAll` / `writableAll` applied.
fn unix(query: &ServerQuery) -> io::Result<(OwnedFd, Option<PathBuf>)> {
    let address = query.address.as_deref().ok_or_else(einval)?;
    let fd = socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    if let Some(name) = address.strip_prefix('\0') {
        bind(&fd, &SocketAddrUnix::new_abstract_name(name.as_bytes())?)?;
        return Ok((fd, None));
    }
    let path = shortest(Path::new(address));
    bind(&fd, &SocketAddrUnix::new(path.as_path())?)?;
    if query.readable_all || query.writable_all {
        // uv_pipe_chmod: adds read and/or write for everyone.
        let mut mode = std::fs::metadata(&path)?.permissions().mode();
        if query.readable_all {
            mode |= 0o444;
        }
        if query.writable_all {
            mode |= 0o222;
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok((fd, Some(path)))
}

/// The path, or the same path relative to our working directory when it
/// is too long for a socket address (107 bytes; Node's primary always
/// takes the shorter of the two).
fn shortest(path: &Path) -> PathBuf {
    const MAX_PATH: usize = 107;
    if path.as_os_str().len() <= MAX_PATH {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|rel| !rel.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
}

fn family(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    }
}

fn port(query: &ServerQuery) -> io::Result<u16> {
    u16::try_from(query.port.unwrap_or(0)).map_err(|_| einval())
}

fn ip(address: &str) -> io::Result<IpAddr> {
    address.parse().map_err(|_| einval())
}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

/// Node's (libuv's) `errno` for a failed bind: the negated OS error.
pub(crate) fn uv_errno(e: &io::Error) -> i32 {
    -e.raw_os_error().unwrap_or(libc::EINVAL)
}
