"""What the program reads from the world at preview and up (apply mode), before any resource is
registered: whether the hosts and the cluster objects it is about to write are its own to write.
Problems name the config key and refuse the run (nothing is created); a host or API server that
cannot be reached is a warning (its own steps fail then, with the reason)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from components import builtin
from components.config import Problem, ResolvedHost, StackConfig
from components.scheduler_host import survey_script

# What survey.sh reports of a kube-scheduler this stack did not install (hostscripts/lib.sh).
_FOREIGN = ("unit", "drop-in", "binary", "process")


@dataclass(frozen=True)
class Survey:
    owner: str | None  # the stack recorded on the host
    foreign: list[str]  # a scheduler installed by hand: unit, drop-ins, binary, processes
    directories: list[str]  # configDir (or pki) holding what this stack did not write


def parse_survey(output: str) -> Survey:
    owner, foreign, directories = None, [], []
    for line in output.splitlines():
        what, _, detail = line.partition(" ")
        if what == "owner":
            owner = detail
        elif what == "directory":
            directories.append(detail)
        elif what in _FOREIGN:
            foreign.append(line)
    return Survey(owner, foreign, directories)


def host_problems(index: int, host: ResolvedHost, survey: Survey, owner: str) -> list[Problem]:
    where = f"{host.name} ({host.address})"
    key = f"bareMetal.hosts[{index}]"
    if survey.owner is not None and survey.owner != owner:
        return [
            Problem(
                key,
                f"expected a host no other stack manages, got {where} managed by the stack "
                f"{survey.owner!r} (a master belongs to one stack: remove it from one of them)",
            )
        ]
    problems = [
        Problem("bareMetal.paths.configDir", f"expected a directory of this stack's own, got {d} on {where}")
        for d in survey.directories
    ]
    if survey.foreign and not host.take_over:
        found = "; ".join(survey.foreign)
        problems.append(
            Problem(
                f"{key}.takeOver",
                f"{where} already runs a kube-scheduler this stack did not install ({found}); nothing was "
                f"changed. To replace it with this stack's, one master at a time, set "
                f"bareMetal.hosts[{index}].takeOver: true (README: taking over a master)",
            )
        )
    return problems


def survey_hosts(cfg: StackConfig, owner: str) -> tuple[list[Problem], list[str]]:
    """(problems, warnings) of every master, read over SSH in parallel (read-only)."""
    script = survey_script(cfg)

    def read(host: ResolvedHost) -> str | Exception:
        try:
            return builtin.observe(builtin.connection(host), script)
        except builtin.RemoteCommandError as e:
            return e

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(cfg.hosts)))) as pool:
        outputs = list(pool.map(read, cfg.hosts))
    problems: list[Problem] = []
    warnings: list[str] = []
    for i, (host, out) in enumerate(zip(cfg.hosts, outputs, strict=True)):
        if isinstance(out, Exception):
            warnings.append(f"could not survey {host.name} ({host.address}) before the change: {out}")
            continue
        problems += host_problems(i, host, parse_survey(out), owner)
    return problems, warnings
