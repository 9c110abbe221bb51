"""One bare-metal master: system user, binary, files and the kube-scheduler systemd service."""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass
from urllib.parse import urlsplit

import pulumi
import pulumi_command as command

from components import builtin
from components.config import BareMetal, ResolvedBinary, ResolvedHost
from components.host_file import (
    PREVIOUS,
    FileSpec,
    HostCheck,
    Target,
    content_hash,
    file_check,
    file_check_script,
    file_state,
    keep_previous_lines,
    run,
    write_file,
)
from components.render.kubeconfig import render_kubeconfig
from components.render.scheduler_config import SchedulerConfigSpec, render_scheduler_config
from components.render.systemd_unit import UnitSpec, render_unit
from components.render.versions import KubeVersion, health_paths

SERVICE = "kube-scheduler.service"
USER = "kube-scheduler"
UNIT_PATH = "/etc/systemd/system/" + SERVICE
# /healthz needs no credentials; the serving cert has 127.0.0.1 in its SANs, so curl verifies it.
HEALTHZ = "https://127.0.0.1:10259/healthz"


def health_url(bind_address: str, version: KubeVersion) -> str:
    """Where the service says it is ready: /readyz (informers synced) where the version serves
    it, else /healthz; on loopback when it listens everywhere, else on the one address it binds
    (the serving certificate names the host's addresses too)."""
    host = "127.0.0.1"
    if not ipaddress.ip_address(bind_address).is_unspecified:
        host = f"[{bind_address}]" if ":" in bind_address else bind_address
    return f"https://{host}:10259{health_paths(version)[1]}"


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


def prepare_script(layout: HostLayout) -> str:
    q = shlex.quote
    return (
        "\n".join(
            [
                "set -eu",
                f"getent group {USER} >/dev/null || groupadd --system {USER}",
                f"id -u {USER} >/dev/null 2>&1 || useradd --system --gid {USER} --no-create-home "
                f"--home-dir /nonexistent --shell /usr/sbin/nologin {USER}",
                f"mkdir -p -- {q(layout.config_dir.rsplit('/', 1)[0] or '/')}",
                f"install -d -m 0750 -o root -g {USER} -- {q(layout.config_dir)} {q(layout.pki_dir)}",
                f"echo 'prepared {USER} user and {layout.config_dir}'",
            ]
        )
        + "\n"
    )


def cleanup_script(layout: HostLayout) -> str:
    """Runs last on delete: everything else of ours is gone by then; this is the safety net."""
    q = shlex.quote
    return (
        "\n".join(
            [
                "set -u",
                f"systemctl disable --now {SERVICE} 2>/dev/null || true",
                f"rm -f -- {q(UNIT_PATH)} {q(layout.binary)}",
                f"rm -rf -- {q(layout.config_dir)}",
                f"rmdir -- {q(layout.config_dir.rsplit('/', 1)[0])} 2>/dev/null || true",
                "systemctl daemon-reload",
                f"userdel {USER} 2>/dev/null || true",
                f"groupdel {USER} 2>/dev/null || true",
                f"echo 'removed {USER} user and {layout.config_dir}'",
            ]
        )
        + "\n"
    )


def download_script(binary: ResolvedBinary, path: str) -> str:
    q = shlex.quote
    url, sha = binary.url or "", binary.sha256
    return (
        "\n".join(
            [
                "set -eu",
                "umask 022",
                f'tmp=$(mktemp "$(dirname -- {q(path)})/.kube-scheduler.XXXXXX")',
                "trap 'rm -f -- \"$tmp\"' EXIT",
                f'curl -fsSL --proto =https --retry 3 -o "$tmp" {q(url)}',
                f'if ! echo {q(sha + "  ")}"$tmp" | sha256sum -c --quiet -; then',
                f"  echo {q(f'SHA-256 mismatch for {url}: expected {sha}')} >&2; exit 1",
                "fi",
                'chmod 0755 "$tmp"',
                *keep_previous_lines('"$tmp"', q(path), q(path + PREVIOUS)),
                f'mv -f -- "$tmp" {q(path)}',
                "trap - EXIT",
                f"echo {q(f'installed {path} sha256={sha}')}",
            ]
        )
        + "\n"
    )


def install_upload_script(sha: str, staged: str, path: str) -> str:
    q = shlex.quote
    return (
        "\n".join(
            [
                "set -eu",
                # run again with nothing uploaded (only this step changed): it is in place already
                f"if [ ! -e {q(staged)} ] &&",
                f"  echo {q(sha + '  ' + path)} | sha256sum -c --quiet - 2>/dev/null; then",
                f"  chown root:root -- {q(path)}; chmod 0755 -- {q(path)}",
                f"  echo {q(f'{path} sha256={sha} already installed')}; exit 0",
                "fi",
                f"if ! echo {q(sha + '  ' + staged)} | sha256sum -c --quiet -; then",
                f"  echo {q(f'SHA-256 mismatch for uploaded {staged}: expected {sha}')} >&2; exit 1",
                "fi",
                f"chown root:root -- {q(staged)}",
                f"chmod 0755 -- {q(staged)}",
                *keep_previous_lines(q(staged), q(path), q(path + PREVIOUS)),
                f"mv -f -- {q(staged)} {q(path)}",
                f"echo {q(f'installed {path} sha256={sha}')}",
            ]
        )
        + "\n"
    )


def restart_script(
    inputs: dict[str, str], ca_path: str, timeout_s: int, files: list[str], health_url: str = HEALTHZ
) -> str:
    """Enable and restart the service, then wait (bounded) for its health endpoint to say ok.

    If it does not, put back the files it ran with before (kept by the write steps as
    `<file>.ksched-prev`), restart it on them, and fail with the errors of the failed run: a bad
    change leaves the master on its last good version. The first line lists the hash of
    everything the service reads: a change there is what makes Pulumi run this again, and nothing
    else does.
    """
    q = shlex.quote
    listed = " ".join(f"{k}={v[:16]}" for k, v in sorted(inputs.items()))
    managed = " ".join(q(f) for f in files)
    previous = " ".join(q(f + PREVIOUS) for f in files)
    return (
        "\n".join(
            [
                f"# restart when these change: {listed}",
                "set -eu",
                "wait_healthy() {  # URL SECONDS",
                "  deadline=$(( $(date +%s) + $2 ))",
                "  while :; do",
                f'    body=$(curl -s --max-time 2 --cacert {q(ca_path)} "$1" || true)',
                '    if [ "$body" = ok ]; then return 0; fi',
                '    if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi',
                "    sleep 1",
                "  done",
                "}",
                "started=$(date +%s)",
                f"systemctl enable --quiet {SERVICE}",
                f"systemctl restart {SERVICE}",
                f"if wait_healthy {q(health_url)} {timeout_s}; then",
                f"  rm -f -- {previous}",
                '  echo "$(hostname): kube-scheduler healthy"',
                "  exit 0",
                "fi",
                f'echo "$(hostname): kube-scheduler not healthy after {timeout_s}s (got: $body):" >&2',
                # klog's error and fatal lines of the failed run (its info lines drown them)
                f'journalctl -u {SERVICE} --since "@$started" --no-pager -o cat'
                " | grep -E '^[EF][0-9]{4} |rror|ailed' | tail -n 8 >&2 || true",
                'restored=""',
                f"for f in {managed}; do",
                f'  if [ -e "$f{PREVIOUS}" ]; then mv -f -- "$f{PREVIOUS}" "$f"; restored="$restored $f"; fi',
                "done",
                'if [ -z "$restored" ]; then',
                '  echo "$(hostname): no earlier version on this master to roll back to" >&2',
                "  exit 1",
                "fi",
                'echo "$(hostname): rolling back to the last good version of:$restored" >&2',
                "systemctl daemon-reload",
                f"systemctl restart {SERVICE}",
                # ask where the restored unit listens
                f"addr=$(sed -n 's/^ExecStart=.* --bind-address=\\([^ ]*\\).*/\\1/p' {q(UNIT_PATH)})",
                'case "$addr" in ""|0.0.0.0|::) addr=127.0.0.1 ;; *:*) addr="[$addr]" ;; esac',
                f'if wait_healthy "https://$addr:10259{urlsplit(health_url).path}" {timeout_s}; then',
                '  echo "$(hostname): rolled back; healthy again on its last good version" >&2',
                "else",
                '  echo "$(hostname): still not healthy after the rollback (got: $body)" >&2',
                "fi",
                "exit 1",
            ]
        )
        + "\n"
    )


def stop_script() -> str:
    return f"systemctl disable --now {SERVICE} 2>/dev/null || true\n"


# What the non-file steps leave on a host, read back by their checks ("ok" when as left).
CHECK_OK = "ok"


def _check(lines: list[str]) -> str:
    """A check script: the first failed condition prints why; all passed prints CHECK_OK."""
    return "\n".join([*lines, f"echo {CHECK_OK}"]) + "\n"


def _unless(condition: str, why: str) -> str:
    return f"{condition} || {{ echo {shlex.quote(why)}; exit 0; }}"


def prepare_check_script(layout: HostLayout) -> str:
    dirs = " ".join(shlex.quote(d) for d in (layout.config_dir, layout.pki_dir))
    return _check(
        [
            _unless(f"id -u {USER} >/dev/null 2>&1", f"no user {USER}"),
            f"for d in {dirs}; do",
            '  s=$(stat -c "%a %U:%G" -- "$d" 2>/dev/null || echo missing)',
            f'  [ "$s" = "750 root:{USER}" ] || {{ echo "$d: $s"; exit 0; }}',
            "done",
        ]
    )


def reload_check_script() -> str:
    def show(prop: str) -> str:
        return f'"$(systemctl show -p {prop} --value {SERVICE})"'

    return _check(
        [
            _unless(f"[ {show('LoadState')} = loaded ]", "unit not loaded"),
            _unless(f"[ {show('NeedDaemonReload')} = no ]", "unit changed since the last daemon-reload"),
        ]
    )


def service_check_script(inputs: list[str]) -> str:
    """Enabled, active, and started after every file it reads was last written."""
    files = " ".join(shlex.quote(f) for f in inputs)
    return _check(
        [
            _unless(f'[ "$(systemctl is-enabled {SERVICE} 2>/dev/null)" = enabled ]', "not enabled"),
            _unless(f'[ "$(systemctl is-active {SERVICE})" = active ]', "not active"),
            f'since="$(systemctl show -p ExecMainStartTimestamp --value {SERVICE})"',
            'started=$(date -d "$since" +%s)',
            f"for f in {files}; do",
            '  m=$(stat -c %Y -- "$f" 2>/dev/null) || { echo "$f is missing"; exit 0; }',
            '  [ "$m" -le "$started" ] || { echo "running since before $f changed"; exit 0; }',
            "done",
        ]
    )


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
            prepare = self._run(
                f"{name}-prepare",
                target,
                prepare_script(layout),
                delete=cleanup_script(layout),
                check=HostCheck("user and directories", prepare_check_script(layout), CHECK_OK),
                opts=pulumi.ResourceOptions(parent=self, depends_on=previous),
            )
            ready = [prepare]
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
            reload = self._run(
                f"{name}-daemon-reload",
                target,
                # Runs again only when the unit's hash (in the script text) changes.
                content_hash(unit).apply(lambda h: f"# unit sha256 {h}\nsystemctl daemon-reload\n"),
                check=HostCheck("systemd has loaded the unit", reload_check_script(), CHECK_OK),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[files["unit"]]),
            )
            hashes = {label: content_hash(content) for label, (_, content) in contents.items()}
            hashes["binary"] = pulumi.Output.from_input(args.binary.sha256)
            managed = [spec.path for spec, _ in contents.values()] + [layout.binary]
            health = health_url(bm.bind_address, args.kubernetes_version)
            script = pulumi.Output.all(**hashes).apply(
                lambda h: restart_script(dict(h), layout.ca.path, bm.health_timeout_seconds, managed, health)
            )
            deps: list[pulumi.Resource] = [*files.values(), reload, binary]
            inputs = managed
            self.service = self._run(
                f"{name}-service",
                target,
                script,
                delete=stop_script(),
                check=HostCheck("service running its current files", service_check_script(inputs), CHECK_OK),
                opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
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
        opts: pulumi.ResourceOptions,
    ) -> pulumi.CustomResource:
        self._checks[name] = check
        return run(name, target, create, delete=delete, check=check, opts=opts)

    def _install_binary(
        self,
        name: str,
        target: Target,
        layout: HostLayout,
        binary: ResolvedBinary,
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Resource:
        delete = f"rm -f -- {shlex.quote(layout.binary)} {shlex.quote(layout.binary + PREVIOUS)}\n"
        spec = FileSpec(layout.binary, "0755")
        installed = HostCheck(
            layout.binary, file_check_script(layout.binary), file_state(spec, binary.sha256)
        )
        if binary.url is not None:
            return self._run(
                f"{name}-binary",
                target,
                download_script(binary, layout.binary),
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
            f"{name}-binary",
            target,
            install_upload_script(binary.sha256, staged, layout.binary),
            delete=delete,
            check=installed,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[upload]),
        )
