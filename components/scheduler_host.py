"""One bare-metal master: the wiring of its steps. What lands on the master is
components/render/master.py's; the shell that runs there is components/hostscripts'.

prepare -> every file and the binary staged beside its path -> the service step, whose rollout
(run by systemd on the master) puts the staged files in place, restarts the service, gates it and
rolls it back when the gate fails."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi

from components import hostscripts, steps
from components.backend import Check, Step
from components.config import ResolvedHost, StackConfig
from components.host_file import (
    Target,
    content_hash,
    file_check,
    file_check_script,
    file_state,
    unstage_script,
    write_file,
)
from components.hostscripts import SERVICE, STATE_DIR, UNIT_PATH, USER
from components.render import master, rules
from components.render.master import DEFAULT_LEASE, health_url


def lease_bound_s(cfg: StackConfig) -> int:
    """How long the gate waits for the cluster's lease to be renewed: client-go's worst case for
    these timings, and slack."""
    le = cfg.bare_metal.leader_election
    return math.ceil(rules.failover_bound_s(le.lease_duration_seconds, le.retry_period_seconds)) + 5


def rollout_script(cfg: StackConfig, host: ResolvedHost, files: dict[str, str]) -> str:
    """The rollout the service step hands to systemd on the master (hostscripts/rollout.sh), for
    `files` ({path: sha256} of everything the service reads)."""
    bm = cfg.bare_metal
    paths = master.layout(bm.paths)
    namespace, name = DEFAULT_LEASE
    lease = f"{host.api_server_url}/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
    return hostscripts.script(
        "rollout",
        {
            "STATE": STATE_DIR,
            "RID": hostscripts.rollout_id(files),
            "FILES": hostscripts.running_record(files),
            "SERVICE": SERVICE,
            "UNIT": UNIT_PATH,
            "READY_URL": health_url(bm.bind_address, cfg.kubernetes_version),
            "CA": paths["ca"].path,
            "CERT": paths["cert"].path,
            "KEY": paths["key"].path,
            "LEASE_URL": lease,
            "LEASE_BOUND": str(lease_bound_s(cfg)),
            "TIMEOUT": str(bm.health_timeout_seconds),
            "SOAK": str(bm.soak_seconds),
            "AUTH_CHECK": "1",
            "TAKE_OVER": "1" if host.take_over else "0",
        },
    )


def survey_script(cfg: StackConfig) -> str:
    """Read-only: what decides whether the stack may take a master (the preview reads it)."""
    paths = cfg.bare_metal.paths
    return hostscripts.script(
        "survey",
        {
            "STATE": STATE_DIR,
            "SERVICE": SERVICE,
            "UNIT": UNIT_PATH,
            "BINARY": paths.binary,
            "DIRS": " ".join(master.directories(paths)),
        },
    )


@dataclass(frozen=True)
class SchedulerHostArgs:
    config: StackConfig
    host: ResolvedHost
    cert_pem: pulumi.Input[str]
    key_pem: pulumi.Input[str]  # secret
    owner: str  # "<project>/<stack>": recorded on the host, refused by any other stack
    target: Target
    restart_after: pulumi.Resource | None = None  # serializes rollouts across hosts


def _text(texts: pulumi.Output[dict[str, str]], label: str) -> pulumi.Output[str]:
    return texts.apply(lambda t: t[label])


class SchedulerHost(pulumi.ComponentResource):
    """kube-scheduler on one master, restarted only when something it reads changed.

    Every step carries a host check: the builtin backend reads the host back with it on refresh,
    and the component's `checks` output lists them all for the drift report and the plugins
    backend's converge step (scripts/host_state.py).
    """

    service: pulumi.Resource | None
    checks: pulumi.Output[dict[str, dict[str, str]]]

    def __init__(
        self, name: str, args: SchedulerHostArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(steps.HOST_TYPE, name, None, opts)
        cfg, host, target = args.config, args.host, args.target
        files = master.layout(cfg.bare_metal.paths)
        self._target = target
        self._checks: dict[str, Check] = {}
        render = target.render_root is not None
        # One master at a time, kubespray's serial: 1: nothing of this master changes before the
        # previous one runs its new version through its gate; a master that fails (and rolls
        # back) leaves the masters after it untouched.
        previous = [args.restart_after] if args.restart_after is not None else []
        ready = [] if render else [self._prepare(f"{name}-{steps.PREPARE}", args, previous)]
        after_prepare = pulumi.ResourceOptions(parent=self, depends_on=ready)

        texts: pulumi.Output[dict[str, str]] = pulumi.Output.all(args.cert_pem, args.key_pem).apply(
            lambda ck: master.contents(cfg, host, ck[0], ck[1])
        )
        written: list[pulumi.Resource] = []
        hashes: dict[str, pulumi.Output[str]] = {}
        for label, file in files.items():
            if label == "binary":
                continue
            text = _text(texts, label)
            # every text is made from the key too; only the key and the kubeconfig hold it
            text = pulumi.Output.secret(text) if file.secret else pulumi.Output.unsecret(text)
            step = f"{name}-{steps.file_step(label)}"
            written.append(write_file(step, target, file, text, after_prepare))
            self._checks[step] = file_check(file, text, target, step)
            hashes[file.path] = content_hash(text)
        self.service = None
        if not render:
            written.append(self._binary(name, args, after_prepare))
            hashes[files["binary"].path] = pulumi.Output.from_input(args.config.binary.sha256)
            deps = pulumi.ResourceOptions(parent=self, depends_on=[*ready, *written])
            self.service = self._service(f"{name}-{steps.SERVICE}", args, pulumi.Output.all(**hashes), deps)
        self.checks = pulumi.Output.all(
            **{
                step: pulumi.Output.all(label=c.label, script=c.script, expected=c.expected)
                for step, c in self._checks.items()
            }
        )
        self.register_outputs({"checks": self.checks})

    def _run(self, step: Step, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
        self._checks[step.name] = step.check
        return self._target.run(step, opts)

    def _prepare(
        self, name: str, args: SchedulerHostArgs, previous: list[pulumi.Resource]
    ) -> pulumi.Resource:
        claim = self._target.claim(name)
        dirs = " ".join(master.directories(args.config.bare_metal.paths))
        common = {"STATE": STATE_DIR, "CLAIM": claim, "USER": USER}
        create = hostscripts.script(
            "prepare",
            {
                **common,
                "OWNER": args.owner,
                "SERVICE": SERVICE,
                "UNIT": UNIT_PATH,
                "BINARY": args.config.bare_metal.paths.binary,
                "DIRS": dirs,
                "TAKE_OVER": "1" if args.host.take_over else "0",
            },
        )
        check = hostscripts.script("prepare_check", {**common, "OWNER": args.owner, "DIRS": dirs})
        delete = hostscripts.script("cleanup", {**common, "SERVICE": SERVICE, "UNIT": UNIT_PATH})
        owned = Check("ownership, user and directories", check, hostscripts.CHECK_OK)
        return self._run(
            Step(name, create, owned, delete=delete), pulumi.ResourceOptions(parent=self, depends_on=previous)
        )

    def _binary(self, name: str, args: SchedulerHostArgs, opts: pulumi.ResourceOptions) -> pulumi.Resource:
        """Downloaded on the master, or uploaded, then checked against its SHA-256 and staged."""
        target, binary = self._target, args.config.binary
        assert target.host is not None
        file = master.layout(args.config.bare_metal.paths)["binary"]
        step = f"{name}-{steps.BINARY}"
        claim = target.claim(step)
        common = {"STATE": STATE_DIR, "CLAIM": claim, "DST": file.path, "SHA256": binary.sha256}
        staged = Check(file.path, file_check_script(file.path, claim), file_state(file, binary.sha256))
        delete = unstage_script(file.path, claim)
        if binary.url is not None:
            script = hostscripts.script("download", {**common, "URL": binary.url})
            return self._run(Step(step, script, staged, delete=delete), opts)
        assert binary.local_file is not None
        uploaded = f"{file.path}.upload"
        upload = target.backend.upload(
            f"{name}-{steps.UPLOAD}", target.host, binary.local_file, uploaded, binary.sha256, staged, opts
        )
        self._checks[f"{name}-{steps.UPLOAD}"] = staged
        script = hostscripts.script("install_upload", {**common, "STAGED": uploaded})
        after = pulumi.ResourceOptions(parent=self, depends_on=[upload])
        return self._run(Step(step, script, staged, delete=delete), after)

    def _service(
        self,
        name: str,
        args: SchedulerHostArgs,
        hashes: pulumi.Output[dict[str, str]],
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Resource:
        claim = self._target.claim(name)
        cfg, host = args.config, args.host
        wait = (
            2 * cfg.bare_metal.health_timeout_seconds + cfg.bare_metal.soak_seconds + lease_bound_s(cfg) + 60
        )

        def create(files: dict[str, str]) -> str:
            listed = " ".join(f"{path}={sha[:12]}" for path, sha in sorted(files.items()))
            # The first line says, in a pull request's diff, why this master restarts.
            return f"# restart when these change: {listed}\n" + hostscripts.script(
                "service",
                {
                    "STATE": STATE_DIR,
                    "CLAIM": claim,
                    "RID": hostscripts.rollout_id(files),
                    "ROLLOUT_UNIT": hostscripts.ROLLOUT_UNIT,
                    "WAIT": str(wait),
                },
            )

        check = hostscripts.script("service_check", {"STATE": STATE_DIR, "SERVICE": SERVICE})
        running = Check(
            "service running the files the stack wrote", check, hashes.apply(hostscripts.running_digest)
        )
        step = Step(
            name,
            hashes.apply(create),
            running,
            delete=hostscripts.script("stop", {"STATE": STATE_DIR, "CLAIM": claim, "SERVICE": SERVICE}),
            stdin=hashes.apply(lambda files: rollout_script(cfg, host, files)),
        )
        return self._run(step, opts)
