"""What a runner process may do, enforced by the kernel: resource limits and a seccomp filter.

Set once, before the runner serves its first request, after everything it needs is imported
and opened. RestrictedPython already keeps admin code away from modules, files and sockets;
these hold even if that first layer had a hole:

- **No privileges**: a runner started as root becomes ``nobody`` (no capability; the
  instance's database and secret files, mode 0600, are not readable). Started as another user,
  it keeps that user: run the app as a user of its own.
- **Resource limits**: address space (the memory budget and a margin), no file growth
  (``RLIMIT_FSIZE`` 0: no file can be written, root included), no new processes (for users
  other than root), no core dumps, few descriptors. Each run also gets a CPU-time limit
  (:func:`cpu_backstop`) behind the sandbox's budget and the parent's watch.
- **A seccomp filter** (libseccomp, through ``pyseccomp``, a ctypes binding of it), which
  binds root too: no process creation or ``exec``, no new sockets, no opening a file for
  writing, no changing the file system, no signals to other processes, no ptrace, no raising
  limits other than the CPU one, no namespaces, mounts or kernel modules. Refused calls fail
  with ``EPERM``, so Python raises an error rather than the runner dying. Where libseccomp is
  missing (not Linux, a minimal container) the runner starts without it and says so in the
  parent's log once (:func:`seccomp_available`).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import resource
import time
from typing import Any

#: Address space beyond the interpreter's own and the memory budget.
ADDRESS_SPACE_MARGIN = 128 * 2**20
#: Descriptors a runner may hold (it needs its channel and /proc/self/statm).
MAX_FILES = 16

#: Syscalls refused outright.
_REFUSED = """
fork vfork clone clone3 execve execveat ptrace process_vm_readv process_vm_writev kcmp
pidfd_open pidfd_getfd pidfd_send_signal
socket socketpair connect bind listen accept accept4
creat truncate ftruncate unlink unlinkat rename renameat renameat2 mkdir mkdirat rmdir link
linkat symlink symlinkat chmod fchmod fchmodat chown fchown lchown fchownat mknod mknodat
utime utimes utimensat futimesat setxattr lsetxattr fsetxattr removexattr lremovexattr
fremovexattr openat2 open_by_handle_at name_to_handle_at memfd_create
mount umount2 pivot_root chroot setns unshare bpf perf_event_open keyctl add_key request_key
init_module finit_module delete_module kexec_load kexec_file_load reboot swapon swapoff setuid
setgid setreuid setregid setresuid setresgid setgroups setfsuid setfsgid capset personality
userfaultfd io_uring_setup
""".split()  # noqa: SIM905 - a list of names reads best as text
#: open()/openat() flags that write or create.
_WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)


@functools.cache
def _pyseccomp() -> Any:
    """The binding, loaded once (it looks libseccomp up with ``ldconfig``, a child process:
    load it before :func:`apply_limits`)."""
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError):  # no libseccomp on this system
        return None
    return pyseccomp


def seccomp_available() -> bool:
    """Whether runners on this system get their seccomp filter."""
    return _pyseccomp() is not None


def _limit(which: int, value: int) -> None:
    # Not lowerable here (a container's own limit is lower): the other layers remain.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(which, (value, value))


def _address_space() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def drop_privileges() -> bool:
    """Run as ``nobody`` from now on, when started as root: no capability left, and nothing
    of the instance (its database and secrets are the app user's, mode 0600) readable."""
    if os.geteuid() != 0:
        return False
    try:
        import pwd

        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
    except (ImportError, KeyError):
        uid = gid = 65534
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    return True


def apply_limits(memory_bytes: int) -> None:
    """Resource limits (once, before the first request)."""
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_FSIZE, 0)
    _limit(resource.RLIMIT_NPROC, 0)
    _limit(resource.RLIMIT_NOFILE, MAX_FILES)
    with contextlib.suppress(OSError):  # no /proc: the sandbox's own memory checks remain
        _limit(resource.RLIMIT_AS, _address_space() + memory_bytes + ADDRESS_SPACE_MARGIN)


def apply_seccomp() -> bool:
    """Load the seccomp filter; False where libseccomp is not available."""
    seccomp = _pyseccomp()
    if seccomp is None:
        return False
    refuse = seccomp.ERRNO(errno.EPERM)
    policy = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in _REFUSED:
        with contextlib.suppress(Exception):  # a syscall this architecture does not have
            policy.add_rule(refuse, name)
    for flag in _WRITE_FLAGS:
        with contextlib.suppress(Exception):
            policy.add_rule(refuse, "open", seccomp.Arg(1, seccomp.MASKED_EQ, flag, flag))
        policy.add_rule(refuse, "openat", seccomp.Arg(2, seccomp.MASKED_EQ, flag, flag))
    pid = os.getpid()
    policy.add_rule(refuse, "kill", seccomp.Arg(0, seccomp.NE, pid))
    policy.add_rule(refuse, "tgkill", seccomp.Arg(0, seccomp.NE, pid))
    policy.add_rule(refuse, "tkill", seccomp.Arg(0, seccomp.NE, pid))
    # Only the CPU limit may change (each run sets its own); the others are final.
    # prlimit64(pid, resource, new, old): setting (new != NULL) another process's limits, or
    # any limit of its own but the CPU one, is refused; reading them is not.
    setting = seccomp.Arg(2, seccomp.NE, 0)
    policy.add_rule(refuse, "prlimit64", seccomp.Arg(0, seccomp.NE, 0), setting)
    policy.add_rule(refuse, "prlimit64", seccomp.Arg(1, seccomp.NE, resource.RLIMIT_CPU), setting)
    with contextlib.suppress(Exception):
        policy.add_rule(refuse, "setrlimit", seccomp.Arg(0, seccomp.NE, resource.RLIMIT_CPU))
    policy.load()
    return True


_backstop_at = 0.0


def cpu_backstop(cpu_seconds: float) -> None:
    """SIGXCPU (which ends the process) shortly after this run's CPU time is used up: the
    parent's watch stops a runner first; this is for a parent that cannot. The limit is moved
    only when it would fire too early or over 10 s too late (a system call less per run)."""
    global _backstop_at
    wanted = time.process_time() + cpu_seconds + 2
    if _backstop_at and wanted <= _backstop_at <= wanted + 10:
        return
    soft = math.ceil(wanted + 5)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        _backstop_at = soft
