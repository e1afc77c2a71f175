//! Confining a program run through `exec` to its stage's grants.
//!
//! Everything that can fail or allocate happens in the parent, before the
//! fork: the Landlock ruleset is built and its file descriptor kept, the
//! uid and gid maps for the program's user namespace are formatted, and the
//! seccomp filter is compiled to BPF. Between fork and exec the child only
//! makes system calls on what was prepared ([`Prepared::enter`]):
//!
//! 1. `unshare` into a new user and network namespace and write its id
//!    maps, `setgroups` denied first, so the program holds no capability
//!    in the host's namespaces; the namespace has no interface but a
//!    loopback of its own, brought up so that test suites can serve to
//!    themselves, which reaches nothing of the host's; with a `net` grant,
//!    the child listens on the namespace's loopback and hands the socket to
//!    the host, which serves the stage's filtering proxy on it;
//! 2. `no_new_privs`, then `landlock_restrict_self` on the prepared ruleset:
//!    files only under the granted directories, `/dev/null` and the random
//!    devices; where namespaces are missing and the stage has a `net` grant,
//!    TCP connect only to the host's filtering proxy and no TCP bind; no signals or abstract sockets outside the
//!    program's own domain;
//! 3. a seccomp filter allowing only TCP and route netlink sockets, and
//!    refusing `io_uring`, `setsid` and `setpgid`.
//!
//! [`confinement_support`] probes once what the kernel offers, for
//! `inspect`, for the stage log and for a policy that requires confinement.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::Serialize;

/// The newest Landlock ABI the rules here are written for; a newer kernel
/// is used at this level, an older one at its own.
const TARGET_ABI: ABI = ABI::V7;

/// The Landlock ABI that first restricts TCP connect and bind.
const NET_ABI: u32 = 4;

/// The first Landlock ABI that scopes signals and abstract Unix sockets
/// to the program's own domain.
const SCOPE_ABI: u32 = 6;

/// In debug builds only, `none` makes the probe report a kernel that cannot
/// confine, so that the refusal and warning paths can be tested anywhere.
pub const CONFINEMENT_OVERRIDE_VAR: &str = "GANTRY_EXEC_CONFINEMENT";

/// What the kernel offers to confine programs run through `exec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfinementSupport {
    /// The Landlock ABI used: the kernel's, at most the one the rules are
    /// written for; 0 when the kernel has no Landlock.
    pub landlock_abi: u32,
    /// Whether a program can be put in its own user and network namespace.
    pub namespaces: bool,
    /// Whether seccomp filters can be installed.
    pub seccomp: bool,
    /// Why programs cannot be confined; `None` when they can.
    pub missing: Option<String>,
    /// One line for people: "Landlock ABI 7, user and network namespaces,
    /// seccomp" or "NOT confined: …".
    pub summary: String,
}

impl ConfinementSupport {
    fn new(landlock_abi: u32, namespaces: bool, seccomp: bool) -> Self {
        let missing = if landlock_abi == 0 {
            let reason = "the kernel has no Landlock (Linux 5.13 or later, with `landlock` \
                          in the `lsm=` boot list)";
            Some(reason.to_owned())
        } else if landlock_abi < NET_ABI {
            Some(format!(
                "Landlock ABI {landlock_abi} cannot restrict TCP connections (needs ABI \
                 {NET_ABI}, Linux 6.7)"
            ))
        } else if landlock_abi < SCOPE_ABI {
            Some(format!(
                "Landlock ABI {landlock_abi} cannot keep programs from signalling other \
                 processes or reaching abstract Unix sockets (needs ABI {SCOPE_ABI}, Linux 6.12)"
            ))
        } else if !namespaces {
            Some("unprivileged user and network namespaces are disabled".to_owned())
        } else if !seccomp {
            Some("the kernel has no seccomp filters".to_owned())
        } else {
            None
        };
        let summary = match &missing {
            None => format!(
                "confined by Landlock ABI {landlock_abi}, user and network namespaces and a \
                 seccomp socket filter"
            ),
            Some(reason) => format!("NOT confined: {reason}"),
        };
        ConfinementSupport {
            landlock_abi,
            namespaces,
            seccomp,
            missing,
            summary,
        }
    }

    /// Whether programs are confined as the grants say.
    pub fn confined(&self) -> bool {
        self.missing.is_none()
    }

    /// The line the stage log shows before a stage that may run programs.
    pub fn stage_line(&self, has_net: bool) -> String {
        match &self.missing {
            Some(reason) => format!("exec: NOT confined: {reason}"),
            None if has_net => format!(
                "exec: programs confined by Landlock ABI {}, network only through the \
                 filtering proxy",
                self.landlock_abi
            ),
            None => format!(
                "exec: programs confined by Landlock ABI {}, no network",
                self.landlock_abi
            ),
        }
    }
}

/// What this kernel offers, probed once per process.
pub fn confinement_support() -> &'static ConfinementSupport {
    static SUPPORT: OnceLock<ConfinementSupport> = OnceLock::new();
    SUPPORT.get_or_init(|| {
        if cfg!(debug_assertions)
            && std::env::var(CONFINEMENT_OVERRIDE_VAR).is_ok_and(|v| v == "none")
        {
            let mut none = ConfinementSupport::new(0, false, false);
            let reason = format!("disabled by {CONFINEMENT_OVERRIDE_VAR}=none (a debug build)");
            none.summary = format!("NOT confined: {reason}");
            none.missing = Some(reason);
            return none;
        }
        ConfinementSupport::new(probe_landlock_abi(), probe_namespaces(), probe_seccomp())
    })
}

fn probe_landlock_abi() -> u32 {
    // SAFETY: with a null attribute, size 0 and the VERSION flag the call
    // only returns the ABI version; it touches no memory.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    u32::try_from(version).unwrap_or(0).min(TARGET_ABI as u32)
}

/// Whether a forked child can enter a new user and network namespace.
fn probe_namespaces() -> bool {
    // SAFETY: the child makes one system call and exits without running
    // destructors or touching locks that another thread may hold.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => unsafe {
            let entered = libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) == 0;
            libc::_exit(if entered { 0 } else { 1 })
        },
        Ok(nix::unistd::ForkResult::Parent { child }) => matches!(
            nix::sys::wait::waitpid(child, None),
            Ok(nix::sys::wait::WaitStatus::Exited(_, 0))
        ),
        Err(_) => false,
    }
}

fn probe_seccomp() -> bool {
    // SAFETY: PR_GET_SECCOMP reads the calling thread's mode; it fails with
    // EINVAL on a kernel without seccomp.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 }
}

/// What one program may touch.
#[derive(Debug, Clone, Default)]
pub struct ConfinementPlan {
    /// Directories or files it may read and execute.
    pub read: Vec<PathBuf>,
    /// Directories or files it may read, write, create and remove in.
    pub write: Vec<PathBuf>,
    /// Where the stage's filtering proxy is, when the stage has a `net`
    /// grant; without one the program gets no network at all.
    pub proxy: Option<ProxyPlan>,
}

/// How a program reaches the stage's filtering proxy.
#[derive(Debug, Clone, Copy)]
pub enum ProxyPlan {
    /// In its own network namespace: the child listens on
    /// `127.0.0.1:`[`NAMESPACE_PROXY_PORT`] there and hands the listening
    /// socket over this Unix socket, on which the host serves the proxy.
    /// Nothing else is reachable from the namespace.
    HandOver { channel: RawFd },
    /// Without namespaces: the host's proxy on 127.0.0.1, the one TCP
    /// port Landlock lets the program connect to.
    HostPort(u16),
}

/// The port programs find the proxy on inside their network namespace.
pub const NAMESPACE_PROXY_PORT: u16 = 3128;

/// A confinement built in the parent, entered by the child before exec.
pub struct Prepared {
    ruleset: Option<OwnedFd>,
    id_maps: Option<IdMaps>,
    seccomp: Option<BpfProgram>,
    /// The Unix socket to hand the proxy's listening socket over.
    proxy_channel: Option<RawFd>,
}

/// The contents written to a new user namespace's maps: the program keeps
/// the user and group it would have had.
struct IdMaps {
    uid: Vec<u8>,
    gid: Vec<u8>,
}

/// Why a confinement could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    #[error("failed to build the Landlock ruleset: {0}")]
    Landlock(#[from] landlock::RulesetError),
    #[error("failed to open `{}` for the Landlock ruleset: {message}", path.display())]
    Path { path: PathBuf, message: String },
    #[error("failed to build the seccomp filter: {0}")]
    Seccomp(String),
}

impl Prepared {
    /// Builds what `support` allows of `plan`; nothing at all when
    /// confinement was switched off for tests.
    ///
    /// # Errors
    ///
    /// Fails when a granted path cannot be opened or a rule is refused.
    pub fn build(
        plan: &ConfinementPlan,
        support: &ConfinementSupport,
    ) -> Result<Prepared, ConfineError> {
        // A private user and network namespace whenever the kernel has
        // them: no capabilities in the host's namespaces, and no network but
        // the proxy's hand-over listener.
        let private_network = support.namespaces;
        let ruleset = match support.landlock_abi {
            0 => None,
            _ => build_ruleset(plan, private_network)?,
        };
        let id_maps = private_network.then(|| {
            let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
            IdMaps {
                uid: format!("{uid} {uid} 1\n").into_bytes(),
                gid: format!("{gid} {gid} 1\n").into_bytes(),
            }
        });
        let seccomp = match support.seccomp {
            true => Some(socket_filter()?),
            false => None,
        };
        let proxy_channel = match plan.proxy {
            Some(ProxyPlan::HandOver { channel }) if private_network => Some(channel),
            _ => None,
        };
        Ok(Prepared {
            ruleset,
            id_maps,
            seccomp,
            proxy_channel,
        })
    }

    /// Enters the confinement. Runs in the child between fork and exec, so
    /// it only makes system calls on memory prepared before the fork.
    ///
    /// # Errors
    ///
    /// The failing call's error; the program then does not start.
    pub fn enter(&self) -> io::Result<()> {
        if let Some(maps) = &self.id_maps {
            // SAFETY: unshare(2) takes no pointers.
            check(unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) })?;
            write_proc(c"/proc/self/setgroups", b"deny")?;
            write_proc(c"/proc/self/uid_map", &maps.uid)?;
            write_proc(c"/proc/self/gid_map", &maps.gid)?;
            loopback_up()?;
            if let Some(channel) = self.proxy_channel {
                hand_over_listener(channel)?;
            }
        }
        // SAFETY: prctl(2) with integer arguments only.
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
        if let Some(ruleset) = &self.ruleset {
            // SAFETY: the descriptor is a Landlock ruleset kept open by `self`.
            let restricted =
                unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0) };
            check(restricted as libc::c_int)?;
        }
        if let Some(filter) = &self.seccomp {
            seccompiler::apply_filter(filter).map_err(|_| io::Error::last_os_error())?;
        }
        Ok(())
    }
}

fn check(result: libc::c_int) -> io::Result<()> {
    match result {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Writes `contents` to a `/proc/self` file with raw system calls.
fn write_proc(path: &CStr, contents: &[u8]) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated and `contents` outlives the calls.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let written = libc::write(fd, contents.as_ptr().cast(), contents.len());
        libc::close(fd);
        if written != contents.len() as isize {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Listens on `127.0.0.1:`[`NAMESPACE_PROXY_PORT`] in the new network
/// namespace and sends the listening socket over `channel` to the host,
/// which serves the filtering proxy on it from outside; system calls on
/// stack values only.
fn hand_over_listener(channel: RawFd) -> io::Result<()> {
    // SAFETY: every pointer is to a stack value that outlives the call
    // using it; the listening socket is closed on every path.
    unsafe {
        let listener = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if listener < 0 {
            return Err(io::Error::last_os_error());
        }
        let address = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: NAMESPACE_PROXY_PORT.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
            },
            sin_zero: [0; 8],
        };
        let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let mut result = libc::bind(listener, (&raw const address).cast(), size);
        if result == 0 {
            result = libc::listen(listener, 128);
        }
        if result == 0 {
            let mut byte = [0u8; 1];
            let mut iov = libc::iovec {
                iov_base: byte.as_mut_ptr().cast(),
                iov_len: 1,
            };
            // Room for one descriptor, aligned as a `cmsghdr` must be.
            let mut control = [0u64; 8];
            let mut message: libc::msghdr = std::mem::zeroed();
            message.msg_iov = &raw mut iov;
            message.msg_iovlen = 1;
            message.msg_control = control.as_mut_ptr().cast();
            message.msg_controllen = libc::CMSG_SPACE(size_of::<libc::c_int>() as u32) as usize;
            let header = libc::CMSG_FIRSTHDR(&raw const message);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(size_of::<libc::c_int>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<libc::c_int>(), listener);
            result = match libc::sendmsg(channel, &raw const message, 0) {
                1 => 0,
                _ => -1,
            };
        }
        let error = io::Error::last_os_error();
        libc::close(listener);
        match result {
            0 => Ok(()),
            _ => Err(error),
        }
    }
}

/// Receives the listening socket a program's child sent with
/// [`hand_over_listener`].
///
/// # Errors
///
/// Fails when nothing, or no descriptor, arrived.
pub fn receive_listener(channel: &std::os::unix::net::UnixStream) -> io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: every pointer is to a stack value that outlives the call;
    // a descriptor the kernel passed is owned from here on.
    unsafe {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut control = [0u64; 8];
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &raw mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = std::mem::size_of_val(&control);
        let flags = libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT;
        if libc::recvmsg(channel.as_raw_fd(), &raw mut message, flags) != 1 {
            return Err(io::Error::last_os_error());
        }
        let header = libc::CMSG_FIRSTHDR(&raw const message);
        if header.is_null()
            || (*header).cmsg_level != libc::SOL_SOCKET
            || (*header).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(io::Error::other("no listening socket was handed over"));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<libc::c_int>());
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Brings up the loopback interface of the new network namespace, with
/// system calls on a stack value only.
fn loopback_up() -> io::Result<()> {
    // SAFETY: `request` is a zeroed `ifreq` naming `lo`, valid for both
    // ioctls; the socket is closed on every path.
    unsafe {
        let socket = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if socket < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        request.ifr_name[0] = b'l' as libc::c_char;
        request.ifr_name[1] = b'o' as libc::c_char;
        let mut result = libc::ioctl(socket, libc::SIOCGIFFLAGS, &mut request);
        if result == 0 {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            result = libc::ioctl(socket, libc::SIOCSIFFLAGS, &request);
        }
        let error = io::Error::last_os_error();
        libc::close(socket);
        match result {
            0 => Ok(()),
            _ => Err(error),
        }
    }
}

/// The ruleset's descriptor, or `None` when the kernel enforces nothing.
/// In a private network namespace TCP is left to the namespace, which
/// reaches nothing outside; elsewhere Landlock allows connecting only to
/// the proxy.
fn build_ruleset(
    plan: &ConfinementPlan,
    private_network: bool,
) -> Result<Option<OwnedFd>, ConfineError> {
    let abi = TARGET_ABI;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))?;
    if !private_network {
        ruleset = ruleset.handle_access(AccessNet::from_all(abi))?;
    }
    let mut ruleset = ruleset.scope(Scope::from_all(abi))?.create()?;
    for path in &plan.read {
        ruleset = ruleset.add_rule(path_rule(path, AccessFs::from_read(abi))?)?;
    }
    // Writing never includes making device nodes.
    let write = AccessFs::from_all(abi) & !(AccessFs::MakeBlock | AccessFs::MakeChar);
    for path in &plan.write {
        ruleset = ruleset.add_rule(path_rule(path, write)?)?;
    }
    let dev_null = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate;
    ruleset = ruleset.add_rule(path_rule(Path::new("/dev/null"), dev_null)?)?;
    // Harmless devices some tools open instead of calling getrandom(2).
    for device in ["/dev/zero", "/dev/urandom", "/dev/random"] {
        if Path::new(device).exists() {
            let read = AccessFs::ReadFile.into();
            ruleset = ruleset.add_rule(path_rule(Path::new(device), read)?)?;
        }
    }
    // No rule for binding: a program may not listen on any TCP port.
    if let Some(ProxyPlan::HostPort(port)) = plan.proxy.filter(|_| !private_network) {
        ruleset = ruleset.add_rule(NetPort::new(port, AccessNet::ConnectTcp))?;
    }
    Ok(ruleset.into())
}

fn path_rule(path: &Path, access: BitFlags<AccessFs>) -> Result<PathBeneath<PathFd>, ConfineError> {
    let fd = PathFd::new(path).map_err(|e| ConfineError::Path {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let access = match path.is_dir() {
        true => access,
        false => access & AccessFs::from_file(TARGET_ABI),
    };
    Ok(PathBeneath::new(fd, access))
}

/// Refuses (`EACCES`) every socket but plain TCP over IPv4 or IPv6 (no
/// UDP, raw, MPTCP or SCTP, which Landlock's TCP rules do not cover) and
/// route netlink, which name lookups query: no Unix, vsock, packet or other
/// socket, so nothing on the host is reachable through a socket path.
/// Also refuses `io_uring`, whose operations would bypass a filter on
/// system calls, and `setsid` and `setpgid`, so that no process a program
/// starts can leave its process group and outlive the stage's time limit.
fn socket_filter() -> Result<BpfProgram, ConfineError> {
    let seccomp = |e: seccompiler::BackendError| ConfineError::Seccomp(e.to_string());
    let arg = |index, op, value| {
        SeccompCondition::new(index, SeccompCmpArgLen::Dword, op, value).map_err(seccomp)
    };
    let rule = |conditions| SeccompRule::new(conditions).map_err(seccomp);
    let (inet, inet6) = (libc::AF_INET as u64, libc::AF_INET6 as u64);
    let netlink = libc::AF_NETLINK as u64;
    let mut socket_rules = vec![
        // Any family but these three.
        rule(vec![
            arg(0, SeccompCmpOp::Ne, inet)?,
            arg(0, SeccompCmpOp::Ne, inet6)?,
            arg(0, SeccompCmpOp::Ne, netlink)?,
        ])?,
        // Netlink other than route.
        rule(vec![
            arg(0, SeccompCmpOp::Eq, netlink)?,
            arg(2, SeccompCmpOp::Ne, libc::NETLINK_ROUTE as u64)?,
        ])?,
    ];
    for domain in [inet, inet6] {
        // A protocol other than the default or TCP (MPTCP, SCTP, …).
        socket_rules.push(rule(vec![
            arg(0, SeccompCmpOp::Eq, domain)?,
            arg(2, SeccompCmpOp::Ne, 0)?,
            arg(2, SeccompCmpOp::Ne, libc::IPPROTO_TCP as u64)?,
        ])?);
        let other_types = [
            libc::SOCK_DGRAM,
            libc::SOCK_RAW,
            libc::SOCK_RDM,
            libc::SOCK_SEQPACKET,
            // SOCK_PACKET, obsolete but still accepted by the kernel.
            10,
        ];
        for kind in other_types {
            socket_rules.push(rule(vec![
                arg(0, SeccompCmpOp::Eq, domain)?,
                arg(1, SeccompCmpOp::MaskedEq(0xf), kind as u64)?,
            ])?);
        }
    }
    let rules = BTreeMap::from([
        (libc::SYS_socket, socket_rules),
        (libc::SYS_io_uring_setup, Vec::new()),
        (libc::SYS_setsid, Vec::new()),
        (libc::SYS_setpgid, Vec::new()),
    ]);
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| ConfineError::Seccomp(e.to_string()))?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch,
    )
    .map_err(seccomp)?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| ConfineError::Seccomp(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_says_what_is_missing() {
        assert!(ConfinementSupport::new(7, true, true).confined());
        let old = ConfinementSupport::new(3, true, true);
        assert!(
            old.summary.starts_with("NOT confined: Landlock ABI 3"),
            "{old:?}"
        );
        let no_ns = ConfinementSupport::new(7, false, true);
        assert_eq!(
            no_ns.stage_line(false),
            "exec: NOT confined: unprivileged user and network namespaces are disabled"
        );
        let full = ConfinementSupport::new(7, true, true);
        assert_eq!(
            full.stage_line(false),
            "exec: programs confined by Landlock ABI 7, no network"
        );
    }

    #[test]
    fn the_socket_filter_compiles() {
        assert!(!socket_filter().unwrap().is_empty());
    }
}
