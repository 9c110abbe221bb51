"""Files that exist only in memory (memfd), for key material a child process must read by path:
nothing lands on a disk, and nothing is left behind when the process is killed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def memfiles(**contents: bytes | str) -> Iterator[dict[str, tuple[int, str]]]:
    """{name: (fd, path)} for each content, mode 0600, closed on exit. The path names this
    process's descriptor (`/proc/<our pid>/fd/<fd>`), which a child opens while we hold it: OpenSSH
    closes every inherited descriptor above stderr as it starts, so its own `/proc/self/fd/<fd>`
    would be gone. Children that keep what they inherit may be given the fds (`pass_fds`) too."""
    opened: dict[str, tuple[int, str]] = {}
    try:
        for name, data in contents.items():
            fd = os.memfd_create(f"ksched-{name}", 0)  # no MFD_CLOEXEC: the child inherits it
            os.fchmod(fd, 0o600)  # ssh refuses a key others could read
            os.write(fd, data.encode() if isinstance(data, str) else data)
            opened[name] = (fd, f"/proc/{os.getpid()}/fd/{fd}")
        yield opened
    finally:
        for fd, _ in opened.values():
            os.close(fd)
