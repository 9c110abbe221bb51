"""The one way this program writes a file to a host (or, in render mode, to a local directory).

Content travels over stdin, never on a command line. On a host the file is staged beside its path
(`<path>.ksched-next`, explicit owner and mode, atomic rename) for the service step's rollout to
put in place (components/hostscripts/stage.sh); the step claims the path on the host, and its
delete removes the path only while it still holds that claim. In render mode the file is written
in place below the render directory.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_command as command

from components import builtin, hostscripts
from components.config import ResolvedHost

# Fail an unreachable host in about 3 x 10 s instead of the provider's 10 x 15 s default.
DIAL_ERROR_LIMIT = 3
PER_DIAL_TIMEOUT_S = 10


@dataclass(frozen=True)
class FileSpec:
    path: str  # absolute path on the host
    mode: str  # octal, e.g. "0640"
    owner: str = "root"
    group: str = "root"
    secret: bool = False


@dataclass(frozen=True)
class Target:
    """Where host commands run: over SSH to `host`, or (render mode, host None) locally below
    `render_root`; with pulumi-command, or with the builtin dynamic providers."""

    host: ResolvedHost | None
    render_root: str | None = None
    builtin: bool = False

    @property
    def render(self) -> bool:
        return self.render_root is not None

    def connection(self) -> command.remote.ConnectionArgs:
        assert self.host is not None
        h = self.host
        key = h.private_key.get_secret_value() if h.private_key is not None else None
        return command.remote.ConnectionArgs(
            host=h.address,
            port=h.port,
            user=h.user,
            private_key=pulumi.Output.secret(key) if key is not None else None,
            host_key=h.host_key,
            dial_error_limit=DIAL_ERROR_LIMIT,
            per_dial_timeout=PER_DIAL_TIMEOUT_S,
        )

    def identity(self) -> dict[str, object]:
        """What makes a step on this target another step (components.hostscripts.claim_id)."""
        h = self.host
        where = {"address": h.address, "port": h.port, "user": h.user, "hostKey": h.host_key} if h else {}
        return {"backend": "builtin" if self.builtin else "plugins", **where}

    def claim(self, step: str) -> str:
        return hostscripts.claim_id(step, self.identity())

    def builtin_connection(self) -> dict[str, Any] | None:
        if self.host is None:
            return None
        h = self.host
        key = h.private_key.get_secret_value() if h.private_key is not None else None
        return {
            "host": h.address,
            "port": h.port,
            "user": h.user,
            "private_key": pulumi.Output.secret(key) if key is not None else None,
            "host_key": h.host_key,
        }


def render_write_script(spec: FileSpec, render_root: str) -> str:
    """Render mode: stdin becomes `<render_root><spec.path>` with the file's mode (owners are host
    accounts, recorded in the README); the same content leaves the file untouched."""
    path = shlex.quote(render_root + spec.path)
    return (
        "set -eu\n"
        "umask 077\n"
        f"dst={path}\n"
        'mkdir -p -- "$(dirname -- "$dst")"\n'
        'tmp=$(mktemp "$dst.XXXXXX")\n'
        "trap 'rm -f -- \"$tmp\"' EXIT\n"
        'cat >"$tmp"\n'
        'if [ -f "$dst" ] && cmp -s "$tmp" "$dst"; then rm -f -- "$tmp"; else mv -f -- "$tmp" "$dst"; fi\n'
        f'chmod {shlex.quote(spec.mode)} -- "$dst"\n'
        f'echo "wrote $dst ({spec.mode})"\n'
    )


@dataclass(frozen=True)
class HostCheck:
    """How to read back what a step made on a host: `script` prints one line that equals
    `expected` exactly when the host still holds what the stack wrote. `pulumi refresh` (builtin
    backend) and the drift report run it; `label` says what it is about in reports."""

    label: str
    script: str
    expected: pulumi.Input[str]


def _stat_format(render: bool) -> str:
    # Rendered files keep their mode only; their owner is whoever ran the render.
    return "%a" if render else "%a %U:%G"


def file_state(spec: FileSpec, sha256: str, render: bool = False) -> str:
    """The line `file_check` prints for `spec` holding content with this SHA-256."""
    mode = spec.mode.lstrip("0") or "0"
    return f"{sha256} {mode}" if render else f"{sha256} {mode} {spec.owner}:{spec.group}"


def file_check_script(path: str, render: bool = False) -> str:
    """Prints `file_state` of what the host holds for `path`: on a master the version the service
    is to run (staged or in place); a rendered file as it is."""
    if not render:
        return hostscripts.script("file_check", {"DST": path})
    q = shlex.quote(path)
    sha = f"$(sha256sum < {q} | cut -d' ' -f1)"
    meta = f"$(stat -c '{_stat_format(render)}' -- {q})"
    return f'if [ -f {q} ]; then printf \'%s %s\\n\' "{sha}" "{meta}"; else echo absent; fi\n'


def file_check(spec: FileSpec, content: pulumi.Input[str], render_root: str | None = None) -> HostCheck:
    render = render_root is not None
    expected = content_hash(content).apply(lambda h: file_state(spec, h, render))
    return HostCheck(spec.path, file_check_script((render_root or "") + spec.path, render), expected)


def stage_script(spec: FileSpec, claim: str) -> str:
    return hostscripts.script(
        "stage",
        {
            "STATE": hostscripts.STATE_DIR,
            "CLAIM": claim,
            "DST": spec.path,
            "MODE": spec.mode,
            "OWNER_GROUP": f"{spec.owner}:{spec.group}",
        },
    )


def unstage_script(path: str, claim: str) -> str:
    return hostscripts.script("unstage", {"STATE": hostscripts.STATE_DIR, "CLAIM": claim, "DST": path})


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash(content: pulumi.Input[str]) -> pulumi.Output[str]:
    """SHA-256 of content, not secret: it reveals nothing and keeps previews readable."""
    return pulumi.Output.unsecret(pulumi.Output.from_input(content).apply(sha256_text))


def run(
    name: str,
    target: Target,
    create: pulumi.Input[str],
    *,
    delete: str | None = None,
    update: str | None = None,
    stdin: pulumi.Input[str] | None = None,
    quiet: bool = False,
    check: HostCheck | None = None,
    opts: pulumi.ResourceOptions,
) -> pulumi.CustomResource:
    """A command on the target; `quiet` keeps its output out of Pulumi's logs. With the builtin
    backend, `check` reads the host back on refresh (pulumi-command cannot: see host_checks).

    No environment variables: over SSH they need the server's AcceptEnv, so values that should
    trigger an update are written into the script text instead.
    """
    if target.builtin:
        return builtin.SshCommand(
            name,
            target.builtin_connection(),
            create=create,
            update=update,
            delete=delete,
            stdin=stdin,
            quiet=quiet,
            check=check.script if check else None,
            expected=check.expected if check else None,
            opts=opts,
        )
    if target.host is None:
        local_logging = command.local.Logging.NONE if quiet else command.local.Logging.STDOUT_AND_STDERR
        return command.local.Command(
            name,
            create=create,
            update=update,
            delete=delete,
            stdin=stdin,
            logging=local_logging,
            opts=opts,
        )
    remote_logging = command.remote.Logging.NONE if quiet else command.remote.Logging.STDOUT_AND_STDERR
    return command.remote.Command(
        name,
        connection=target.connection(),
        create=create,
        update=update,
        delete=delete,
        stdin=stdin,
        logging=remote_logging,
        opts=opts,
    )


def write_file(
    name: str,
    target: Target,
    spec: FileSpec,
    content: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> pulumi.CustomResource:
    data = pulumi.Output.secret(content) if spec.secret else content
    if target.render_root is not None:
        create = render_write_script(spec, target.render_root)
        delete = f"rm -f -- {shlex.quote(target.render_root + spec.path)}\n"
    else:
        claim = target.claim(name)
        create, delete = stage_script(spec, claim), unstage_script(spec.path, claim)
    return run(
        name,
        target,
        create,
        delete=delete,
        stdin=data,
        quiet=spec.secret,
        check=file_check(spec, content, target.render_root),
        opts=opts,
    )
