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

import pulumi

from components import hostscripts
from components.backend import Backend, Check, Step
from components.config import ResolvedHost
from components.render.master import HostFile


@dataclass(frozen=True)
class Target:
    """Where a master's steps run: over SSH to `host` with `backend`'s resources, or (render mode)
    on this machine below `render_root`."""

    host: ResolvedHost | None
    backend: Backend
    render_root: str | None = None

    def claim(self, step: str) -> str:
        """The id this step writes into the host's claims (hostscripts.claim_id): another backend
        or another connection is another step."""
        h = self.host
        where = {"address": h.address, "port": h.port, "user": h.user, "hostKey": h.host_key} if h else {}
        return hostscripts.claim_id(step, {"backend": self.backend.name, **where})

    def run(self, step: Step, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
        return self.backend.command(self.host, step, opts)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash(content: pulumi.Input[str]) -> pulumi.Output[str]:
    """SHA-256 of content, not secret: it reveals nothing and keeps previews readable."""
    return pulumi.Output.unsecret(pulumi.Output.from_input(content).apply(sha256_text))


def file_state(file: HostFile, sha256: str, render: bool = False) -> str:
    """The line a file's check prints for `file` holding content with this SHA-256 (rendered files
    keep their mode only: their owner is whoever ran the render)."""
    mode = file.mode.lstrip("0") or "0"
    return f"{sha256} {mode}" if render else f"{sha256} {mode} {file.owner}:{file.group}"


def file_check_script(path: str, claim: str | None) -> str:
    """Prints `file_state` of what the host holds for `path`: on a master the version the service
    is to run (staged or in place), claimed by the step `claim`; a rendered file (claim None) as
    it is."""
    if claim is not None:
        return hostscripts.script("file_check", {"STATE": hostscripts.STATE_DIR, "CLAIM": claim, "DST": path})
    q = shlex.quote(path)
    return (
        f"if [ -f {q} ]; then printf '%s %s\\n' \"$(sha256sum < {q} | cut -d' ' -f1)\" "
        f"\"$(stat -c '%a' -- {q})\"; else echo absent; fi\n"
    )


def file_check(file: HostFile, content: pulumi.Input[str], target: Target, step: str) -> Check:
    render = target.render_root is not None
    expected = content_hash(content).apply(lambda h: file_state(file, h, render))
    claim = None if render else target.claim(step)
    return Check(file.path, file_check_script((target.render_root or "") + file.path, claim), expected)


def render_write_script(file: HostFile, render_root: str) -> str:
    """Render mode: stdin becomes `<render_root><path>` with the file's mode (owners are host
    accounts, recorded in the README); the same content leaves the file untouched."""
    return (
        "set -eu\n"
        "umask 077\n"
        f"dst={shlex.quote(render_root + file.path)}\n"
        'mkdir -p -- "$(dirname -- "$dst")"\n'
        'tmp=$(mktemp "$dst.XXXXXX")\n'
        "trap 'rm -f -- \"$tmp\"' EXIT\n"
        'cat >"$tmp"\n'
        'if [ -f "$dst" ] && cmp -s "$tmp" "$dst"; then rm -f -- "$tmp"; else mv -f -- "$tmp" "$dst"; fi\n'
        f'chmod {shlex.quote(file.mode)} -- "$dst"\n'
        f'echo "wrote $dst ({file.mode})"\n'
    )


def unstage_script(path: str, claim: str) -> str:
    return hostscripts.script("unstage", {"STATE": hostscripts.STATE_DIR, "CLAIM": claim, "DST": path})


def write_file(
    name: str, target: Target, file: HostFile, content: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> pulumi.CustomResource:
    data = pulumi.Output.secret(content) if file.secret else content
    if target.render_root is not None:
        create = render_write_script(file, target.render_root)
        delete = f"rm -f -- {shlex.quote(target.render_root + file.path)}\n"
    else:
        claim = target.claim(name)
        create = hostscripts.script(
            "stage",
            {
                "STATE": hostscripts.STATE_DIR,
                "CLAIM": claim,
                "DST": file.path,
                "MODE": file.mode,
                "OWNER_GROUP": f"{file.owner}:{file.group}",
            },
        )
        delete = unstage_script(file.path, claim)
    check = file_check(file, content, target, name)
    return target.run(Step(name, create, check, delete=delete, stdin=data, quiet=file.secret), opts)
