"""Watching a change happen: the lease holder and the masters' /healthz (Monitor) or the in-cluster
replicas (LeaseWatch) sampled every 100 ms, every master's systemd state over SSH (ServiceWatch),
and the time a failover took as the schedulers themselves wrote it in the lease (takeover).

Leader-election timings are upstream's, which every stack here keeps (15 s lease, 2 s retry,
client-go's jitter factor 1.2: docs/sources.md#leader-election, #leader-election-jitter)."""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from collections.abc import Iterable
from typing import Generic, NamedTuple, Protocol, Self, TypeVar

from harness.kube import NAME, Kube, ready, scheduler_pods, timestamp
from harness.lab import MASTERS, healthz, master_ip
from harness.ssh import ssh_argv

LEASE_S, RETRY_S, JITTER = 15, 2, 1.2
# one wait of a standby's acquire loop: retryPeriod stretched by up to JitterFactor (wait.Jitter)
MAX_RETRY_WAIT_S = RETRY_S * (1 + JITTER)
# A leader that dies without releasing: a standby first sees its last renewal (within one wait),
# counts the lease from when it saw it (observedTime, not the record's renewTime), then notices the
# expiry on a later attempt (within one more wait).
CRASH_FAILOVER_BOUND_S = LEASE_S + 2 * MAX_RETRY_WAIT_S
# A leader that releases the lease (SIGTERM): a standby takes it on its next attempt.
RELEASE_FAILOVER_BOUND_S = MAX_RETRY_WAIT_S + 1


class HolderSample(Protocol):
    @property
    def t(self) -> float: ...  # time.monotonic()
    @property
    def holder(self) -> str: ...  # "" when nobody holds the lease


def longest_leaderless(samples: Iterable[HolderSample]) -> float:
    """The longest run of samples without a holder, from its first sample to the next sample with
    one (a run still open at the end does not count: it has no end to measure to)."""
    longest, start = 0.0, None
    for s in samples:
        if not s.holder and start is None:
            start = s.t
        elif s.holder and start is not None:
            longest, start = max(longest, s.t - start), None
    return longest


def timeline(samples: Iterable[HolderSample]) -> list[tuple[float, str]]:
    """(time, the holder's host or pod, "" when nobody held the lease) per sample."""
    return [(s.t, s.holder.split("_", 1)[0]) for s in samples]


S = TypeVar("S", bound=HolderSample)


class _LeaseSampler(Generic[S]):
    """Samples every 100 ms in a thread of its own, between __enter__ and __exit__."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.samples: list[S] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> S:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.sample())
            time.sleep(0.1)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def longest_leaderless(self) -> float:
        return longest_leaderless(self.samples)

    def timeline(self) -> list[tuple[float, str]]:
        return timeline(self.samples)


class MasterSample(NamedTuple):
    t: float
    holder: str  # of kube-system/kube-scheduler
    down: int  # masters whose /healthz did not answer "ok"


class Monitor(_LeaseSampler[MasterSample]):
    """Every master's /healthz and the default lease's holder during a change."""

    def __init__(self, kube: Kube) -> None:
        super().__init__(kube)
        self._ips = [master_ip(m) for m in MASTERS]

    def sample(self) -> MasterSample:
        down = sum(not healthz(ip, timeout=0.5) for ip in self._ips)
        return MasterSample(time.monotonic(), self.kube.holder("kube-scheduler"), down)

    @property
    def max_down(self) -> int:
        return max(s.down for s in self.samples)


class ReplicaSample(NamedTuple):
    t: float
    holder: str  # of the in-cluster scheduler's lease
    ready: int  # its Ready replicas


class LeaseWatch(_LeaseSampler[ReplicaSample]):
    """The in-cluster scheduler's lease holder and its Ready replicas during a change."""

    def sample(self) -> ReplicaSample:
        pods = scheduler_pods(self.kube)
        return ReplicaSample(time.monotonic(), self.kube.holder(NAME), sum(ready(p) for p in pods))

    @property
    def min_ready(self) -> int:
        return min(s.ready for s in self.samples)


def takeover(kube: Kube, lease: str, old: str, timeout: float) -> tuple[float, float]:
    """Waits until another process than `old` (a full holder identity, `<host>_<uuid>`) has the
    lease - a standby, or the old one restarted (a new uuid); returns (seconds waited, seconds
    without a leader), the latter from the old holder's last renewal (or its release: an empty
    holder) to the new holder's acquisition, as the schedulers themselves wrote them in the lease
    (MicroTime): what a crash costs, whatever it took to bring the old leader down."""
    start, last_renew = time.monotonic(), ""
    while time.monotonic() - start < timeout:
        spec = (kube.lease(lease) or {}).get("spec", {})
        holder = spec.get("holderIdentity") or ""
        if holder in (old, ""):
            last_renew = spec.get("renewTime") or last_renew
        elif spec.get("acquireTime"):
            if not last_renew:
                raise AssertionError(f"{old} never seen renewing {lease}")
            return time.monotonic() - start, timestamp(spec["acquireTime"]) - timestamp(last_renew)
        time.sleep(0.05)
    raise AssertionError(f"no holder but {old} took {lease} within {timeout}s")


# One line per sample: "<epoch> <is-active>"; twice a second per master.
_SAMPLER = (
    'while :; do printf \'%s %s\\n\' "$(date +%s.%N)" "$(systemctl is-active kube-scheduler.service)";'
    " sleep 0.5; done"
)


class ServiceWatch:
    """Samples `systemctl is-active kube-scheduler` on every master twice a second (one SSH
    session each, kept open), for 'active throughout, at most one restarting at a time'."""

    def __init__(self, masters: tuple[str, ...] = MASTERS) -> None:
        self.samples: dict[str, list[tuple[float, str]]] = {m: [] for m in masters}
        self._procs: list[subprocess.Popen[str]] = []
        self._threads: list[threading.Thread] = []

    def _read(self, master: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            t, _, state = line.strip().partition(" ")
            if state:
                self.samples[master].append((float(t), state))

    def __enter__(self) -> ServiceWatch:
        for m in self.samples:
            proc = subprocess.Popen([*ssh_argv(m), _SAMPLER], stdout=subprocess.PIPE, text=True)
            self._procs.append(proc)
            thread = threading.Thread(target=self._read, args=(m, proc), daemon=True)
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(self.samples.values()):
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self._procs:
            proc.kill()
            proc.wait()
        for thread in self._threads:
            thread.join(timeout=5)

    def not_active(self) -> dict[str, list[float]]:
        return {m: [t for t, state in s if state != "active"] for m, s in self.samples.items()}

    def most_down_at_once(self) -> int:
        """Masters not active at the same time (samples within a second count as the same time)."""
        down = sorted((t, m) for m, ts in self.not_active().items() for t in ts)
        most = 0
        for t, _ in down:
            most = max(most, len({m for u, m in down if abs(u - t) <= 1.0}))
        return most

    def longest_down(self) -> float:
        """The longest run of non-active samples of one master, in seconds (0 when always active)."""
        longest = 0.0
        for samples in self.samples.values():
            start = None
            for t, state in samples:
                if state != "active" and start is None:
                    start = t
                elif state == "active" and start is not None:
                    longest, start = max(longest, t - start), None
            if start is not None:
                longest = float("inf")  # still down at the end
        return longest

    def sampled_every(self) -> float:
        """The widest gap between two samples of one master, in seconds."""
        gaps = [b - a for s in self.samples.values() for (a, _), (b, _) in itertools.pairwise(s)]
        return max(gaps, default=0.0)
