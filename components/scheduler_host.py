"""One bare-metal master: system user, binary, files and the kube-scheduler systemd service.

The shell that runs on the master lives in components/hostscripts (real scripts, run by the
tests); this module only wires the steps: prepare, then every file and the binary staged beside
its path, then the service step, whose rollout (run by systemd on the master) puts the staged
files in place, restarts the service, gates it and rolls it back when the gate fails.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

import pulumi
import pulumi_command as command

from components import builtin, hostscripts
from components.config import BareMetal, ResolvedBinary, ResolvedHost
from components.host_file import (
    FileSpec,
    HostCheck,
    Target,
    content_hash,
    file_check,
    file_check_script,
    file_state,
    run,
    unstage_script,
    write_file,
)
from components.hostscripts import SERVICE, STATE_DIR, UNIT_PATH, USER
from components.render import rules
from components.render.kubeconfig import render_kubeconfig
from components.render.scheduler_config import SchedulerConfigSpec, render_scheduler_config
from components.render.systemd_unit import UnitSpec, render_unit
from components.render.versions import KubeVersion, health_paths

SECURE_PORT = 10259  # upstream default; the unit passes it and the gate asks it
DEFAULT_LEASE = "kube-system/kube-scheduler"  # the main scheduler's lock (upstream default)


def health_url(bind_address: str, version: KubeVersion) -> str:
    """Where the service says it is ready: /readyz (informers synced) where the version serves
    it, else /healthz; on loopback when it listens everywhere, else on the one address it binds
    (the serving certificate names the host's addresses too)."""
    host = "127.0.0.1"
    if not ipaddress.ip_address(bind_address).is_unspecified:
        host = f"[{bind_address}]" if ":" in bind_address else bind_address
    return f"https://{host}:{SECURE_PORT}{health_paths(version)[1]}"


@dataclass(frozen=True)
class HostLayout:
    """Where every file lives on a master, with owner and mode.

    Keys and kubeconfig are root-owned and readable by the service's group only; the service
    cannot modify anything it reads.
    """

    config_dir: str
    binary: str

    @property
    def pki_dir(self) -> str:
        return f"{self.config_dir}/pki"

    @property
    def config(self) -> FileSpec:
        return FileSpec(f"{self.config_dir}/kube-scheduler.yaml", "0640", "root", USER)

    @property
    def kubeconfig(self) -> FileSpec:
        return FileSpec(f"{self.config_dir}/kube-scheduler.kubeconfig", "0640", "root", USER, secret=True)

    @property
    def ca(self) -> FileSpec:
        return FileSpec(f"{self.pki_dir}/ca.crt", "0644")

    @property
    def cert(self) -> FileSpec:
        return FileSpec(f"{self.pki_dir}/kube-scheduler.crt", "0644")

    @property
    def key(self) -> FileSpec:
        return FileSpec(f"{self.pki_dir}/kube-scheduler.key", "0640", "root", USER, secret=True)

    @property
    def unit(self) -> FileSpec:
        return FileSpec(UNIT_PATH, "0644")

    @property
    def binary_file(self) -> FileSpec:
        return FileSpec(self.binary, "0755")

    def unit_spec(self, version: KubeVersion, bare_metal: BareMetal) -> UnitSpec:
        return UnitSpec(
            kubernetes_version=version,
            binary_path=self.binary,
            config_path=self.config.path,
            kubeconfig_path=self.kubeconfig.path,
            cert_path=self.cert.path,
            key_path=self.key.path,
            ca_path=self.ca.path,
            bind_address=bare_metal.bind_address,
            secure_port=SECURE_PORT,
            verbosity=bare_metal.verbosity,
            user=USER,
            group=USER,
        )

    def config_spec(self, version: KubeVersion, bare_metal: BareMetal) -> SchedulerConfigSpec:
        le = bare_metal.leader_election
        return SchedulerConfigSpec(
            kubernetes_version=version,
            kubeconfig_path=self.kubeconfig.path,
            qps=bare_metal.qps,
            burst=bare_metal.burst,
            lease_duration_s=le.lease_duration_seconds,
            renew_deadline_s=le.renew_deadline_seconds,
            retry_period_s=le.retry_period_seconds,
        )


def survey_script(layout: HostLayout) -> str:
    """Read-only: what decides whether the stack may take the host (preview reads it)."""
    return hostscripts.script(
        "survey",
        {
            "STATE": STATE_DIR,
            "SERVICE": SERVICE,
            "UNIT": UNIT_PATH,
            "BINARY": layout.binary,
            "DIRS": f"{layout.config_dir} {layout.pki_dir}",
        },
    )


def rollout_script(
    *,
    files: dict[str, str],
    layout: HostLayout,
    host: ResolvedHost,
    bare_metal: BareMetal,
    version: KubeVersion,
) -> str:
    """The rollout the service step hands to systemd on the master (hostscripts/rollout.sh)."""
    le = bare_metal.leader_election
    namespace, name = DEFAULT_LEASE.split("/")
    lease_url = f"{host.api_server_url}/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
    record = hostscripts.running_record(files)
    return hostscripts.script(
        "rollout",
        {
            "STATE": STATE_DIR,
            "RID": hostscripts.running_digest(files).split()[1],
            "FILES": record,
            "SERVICE": SERVICE,
            "UNIT": UNIT_PATH,
            "READY_URL": health_url(bare_metal.bind_address, version),
            "CA": layout.ca.path,
            "CERT": layout.cert.path,
            "KEY": layout.key.path,
            "LEASE_URL": lease_url,
            "LEASE_BOUND": str(
                math.ceil(rules.failover_bound_s(le.lease_duration_seconds, le.retry_period_seconds)) + 5
            ),
            "TIMEOUT": str(bare_metal.health_timeout_seconds),
            "SOAK": str(bare_metal.soak_seconds),
            "AUTH_CHECK": "1",
            "TAKE_OVER": "1" if host.take_over else "0",
        },
    )


def rollout_wait_s(bare_metal: BareMetal) -> int:
    """How long the service step waits for its rollout: a gate, a rollback's readiness, slack."""
    le = bare_metal.leader_election
    lease = math.ceil(rules.failover_bound_s(le.lease_duration_seconds, le.retry_period_seconds)) + 5
    return 2 * bare_metal.health_timeout_seconds + bare_metal.soak_seconds + lease + 60


@dataclass(frozen=True)
class SchedulerHostArgs:
    host: ResolvedHost
    bare_metal: BareMetal
    binary: ResolvedBinary
    kubernetes_version: KubeVersion
    cluster_name: str
    ca_cert_pem: str
    cert_pem: pulumi.Input[str]
    key_pem: pulumi.Input[str]  # secret
    owner: str  # "<project>/<stack>": recorded on the host, refused by any other stack
    render_root: str | None = None  # set: write files below it, touch no host
    restart_after: pulumi.Resource | None = None  # serializes restarts across hosts
    builtin: bool = False  # resourceBackend: builtin


class SchedulerHost(pulumi.ComponentResource):
    """kube-scheduler on one master, restarted only when something it reads changed.

    Every step carries a host check (`components.host_file.HostCheck`): the builtin backend reads
    the host back with it on refresh, and the component's `checks` output lists them all, so the
    drift report and the pulumi-command backend's converge step can run them too.
    """

    service: pulumi.Resource | None
    checks: pulumi.Output[dict[str, dict[str, str]]]

    def __init__(
        self, name: str, args: SchedulerHostArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("kube-scheduler:baremetal:SchedulerHost", name, None, opts)
        bm, host = args.bare_metal, args.host
        layout = HostLayout(config_dir=bm.paths.config_dir, binary=bm.paths.binary)
        render = args.render_root is not None
        target = Target(
            host=None if render else host,
            render_root=f"{args.render_root}/hosts/{host.name}" if render else None,
            builtin=args.builtin,
        )
        self._checks: dict[str, HostCheck] = {}

        ready: list[pulumi.Resource] = []
        if not render:
            # One master at a time, kubespray's serial: 1: nothing of this master changes before
            # the previous one runs its new version healthy; a master that fails (and rolls back)
            # leaves the masters after it untouched.
            previous = [args.restart_after] if args.restart_after is not None else []
            ready = [self._prepare(f"{name}-prepare", target, layout, args, previous)]
        after_prepare = pulumi.ResourceOptions(parent=self, depends_on=ready)

        def kubeconfig_of(cert_and_key: list[str]) -> str:
            return render_kubeconfig(
                cluster_name=args.cluster_name,
                server=host.api_server_url,
                ca_pem=args.ca_cert_pem,
                client_cert_pem=cert_and_key[0],
                client_key_pem=cert_and_key[1],
            )

        kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(args.cert_pem, args.key_pem).apply(kubeconfig_of)
        )
        config = render_scheduler_config(layout.config_spec(args.kubernetes_version, bm))
        unit = render_unit(layout.unit_spec(args.kubernetes_version, bm))
        contents: dict[str, tuple[FileSpec, pulumi.Input[str]]] = {
            "ca": (layout.ca, args.ca_cert_pem),
            "cert": (layout.cert, args.cert_pem),
            "key": (layout.key, args.key_pem),
            "kubeconfig": (layout.kubeconfig, kubeconfig),
            "config": (layout.config, config),
            "unit": (layout.unit, unit),
        }
        files: dict[str, pulumi.Resource] = {}
        for label, (spec, content) in contents.items():
            file_name = f"{name}-file-{label}"
            files[label] = write_file(file_name, target, spec, content, after_prepare)
            self._checks[file_name] = file_check(spec, content, target.render_root)
        self.service = None
        if not render:
            binary = self._install_binary(name, target, layout, args.binary, after_prepare)
            hashes = {spec.path: content_hash(content) for spec, content in contents.values()}
            hashes[layout.binary] = pulumi.Output.from_input(args.binary.sha256)
            self.service = self._service(
                f"{name}-service",
                target,
                pulumi.Output.all(**hashes),
                layout,
                args,
                pulumi.ResourceOptions(parent=self, depends_on=[*ready, *files.values(), binary]),
            )
        self.checks = pulumi.Output.all(
            **{
                step: pulumi.Output.all(label=c.label, script=c.script, expected=c.expected)
                for step, c in self._checks.items()
            }
        )
        self.register_outputs({"checks": self.checks})

    def _run(
        self,
        name: str,
        target: Target,
        create: pulumi.Input[str],
        *,
        check: HostCheck,
        delete: str | None = None,
        stdin: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions,
    ) -> pulumi.CustomResource:
        self._checks[name] = check
        return run(name, target, create, delete=delete, stdin=stdin, check=check, opts=opts)

    def _prepare(
        self,
        name: str,
        target: Target,
        layout: HostLayout,
        args: SchedulerHostArgs,
        previous: list[pulumi.Resource],
    ) -> pulumi.Resource:
        claim = target.claim(name)
        dirs = f"{layout.config_dir} {layout.pki_dir}"
        common = {"STATE": STATE_DIR, "CLAIM": claim, "USER": USER}
        create = hostscripts.script(
            "prepare",
            {
                **common,
                "OWNER": args.owner,
                "SERVICE": SERVICE,
                "UNIT": UNIT_PATH,
                "BINARY": layout.binary,
                "DIRS": dirs,
                "TAKE_OVER": "1" if args.host.take_over else "0",
            },
        )
        delete = hostscripts.script("cleanup", {**common, "SERVICE": SERVICE, "UNIT": UNIT_PATH})
        check = hostscripts.script("prepare_check", {**common, "OWNER": args.owner, "DIRS": dirs})
        return self._run(
            name,
            target,
            create,
            delete=delete,
            check=HostCheck("ownership, user and directories", check, hostscripts.CHECK_OK),
            opts=pulumi.ResourceOptions(parent=self, depends_on=previous),
        )

    def _service(
        self,
        name: str,
        target: Target,
        hashes: pulumi.Output[dict[str, str]],
        layout: HostLayout,
        args: SchedulerHostArgs,
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Resource:
        claim = target.claim(name)
        bm = args.bare_metal

        def create(files: dict[str, str]) -> str:
            listed = " ".join(f"{path}={sha[:12]}" for path, sha in sorted(files.items()))
            # The first line says, in a pull request's diff, why this master restarts.
            return f"# restart when these change: {listed}\n" + hostscripts.script(
                "service",
                {
                    "STATE": STATE_DIR,
                    "CLAIM": claim,
                    "RID": hostscripts.running_digest(files).split()[1],
                    "ROLLOUT_UNIT": hostscripts.ROLLOUT_UNIT,
                    "WAIT": str(rollout_wait_s(bm)),
                },
            )

        def rollout(files: dict[str, str]) -> str:
            return rollout_script(
                files=files, layout=layout, host=args.host, bare_metal=bm, version=args.kubernetes_version
            )

        check = hostscripts.script("service_check", {"STATE": STATE_DIR, "SERVICE": SERVICE})
        return self._run(
            name,
            target,
            hashes.apply(create),
            stdin=hashes.apply(rollout),
            delete=hostscripts.script("stop", {"STATE": STATE_DIR, "CLAIM": claim, "SERVICE": SERVICE}),
            check=HostCheck(
                "service running the files the stack wrote", check, hashes.apply(hostscripts.running_digest)
            ),
            opts=opts,
        )

    def _install_binary(
        self,
        name: str,
        target: Target,
        layout: HostLayout,
        binary: ResolvedBinary,
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Resource:
        step = f"{name}-binary"
        claim = target.claim(step)
        common = {"STATE": STATE_DIR, "CLAIM": claim, "DST": layout.binary, "SHA256": binary.sha256}
        installed = HostCheck(
            layout.binary, file_check_script(layout.binary), file_state(layout.binary_file, binary.sha256)
        )
        delete = unstage_script(layout.binary, claim)
        if binary.url is not None:
            return self._run(
                step,
                target,
                hostscripts.script("download", {**common, "URL": binary.url}),
                delete=delete,
                check=installed,
                opts=opts,
            )
        assert binary.local_file is not None
        staged = f"{layout.binary}.upload"
        upload: pulumi.Resource
        if target.builtin:
            conn = target.builtin_connection()
            assert conn is not None
            upload = builtin.SshUpload(
                f"{name}-binary-upload",
                conn,
                binary.local_file,
                staged,
                [binary.sha256],
                check=installed.script,
                expected=installed.expected,
                opts=opts,
            )
        else:
            upload = command.remote.CopyToRemote(
                f"{name}-binary-upload",
                connection=target.connection(),
                source=pulumi.FileAsset(binary.local_file),
                remote_path=staged,
                triggers=[binary.sha256],
                opts=opts,
            )
        self._checks[f"{name}-binary-upload"] = installed
        return self._run(
            step,
            target,
            hostscripts.script("install_upload", {**common, "STAGED": staged}),
            delete=delete,
            check=installed,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[upload]),
        )
