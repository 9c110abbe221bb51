"""A STAND-IN for Pulumi's Python language host `pulumi-language-python` (3.259.0).

The official host is a Go program whose source the Go module proxy here refuses, so the CLI built
from source has no way to run a Python program. This small server implements the same gRPC
service (LanguageRuntime, with the Pulumi SDK's own generated stubs) for what this project needs:

- Run: the program (`__main__.py`) through the SDK's `pulumi-language-python-exec`, with the
  interpreter of Pulumi.yaml's `virtualenv`, config and secret keys in PULUMI_CONFIG and
  PULUMI_CONFIG_SECRET_KEYS, exit code 32 meaning "error already shown" (preview, up, refresh,
  destroy, stack outputs, dynamic providers).
- GetRequiredPackages: the resource plugins named by the virtualenv's `pulumi-plugin.json` files.
- RunPlugin for policy packs: `python -u -m pulumi.policy ENGINE PACK_DIR` in the pack's venv.
- InstallDependencies (`pulumi install`), About, GetProgramDependencies (`pulumi about`),
  GetPluginInfo, Handshake, Cancel.

Not supported (each answers with an error saying so): the poetry and uv toolchains, typecheckers,
debuggers, Python resource-provider plugins, code generation, `pulumi package`. The official host
also starts policy packs behind a proxy that hands them PULUMI_STACK/PULUMI_CONFIG; this one does
not (the project's pack takes the stack from the engine's ConfigureStack call).

scripts/toolchain.sh installs it into the plugin cache only where no official host exists; the CLI
prefers a host on PATH or beside itself, so an official host is always used when present.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

VERSION = "3.259.0"  # the CLI and official host this stands in for
STAND_IN = "ksched stand-in (tools/langhost), not the official pulumi-language-python"
USER_ACTIONABLE_EXIT = 32  # pulumi-language-python-exec: the error was already shown to the user
# Packages known to carry no plugin (the official host skips them by name too).
NO_PLUGIN = frozenset({"pulumi-policy", "pulumi-esc-sdk"})
GRPC_OPTIONS = [("grpc.max_receive_message_length", 400 * 1024 * 1024)]  # as the engine's channels

# Lists the virtualenv's distributions with their pulumi-plugin.json (run by the venv's python).
LIST_PACKAGES = r"""
import importlib.metadata, importlib.util, json, os, sys
seen, out = set(), []
for dist in importlib.metadata.distributions():
    name = dist.metadata["Name"]
    if not name or name.lower() in seen:
        continue
    seen.add(name.lower())
    plugin = None
    try:
        spec = importlib.util.find_spec(name.replace("-", "_"))
    except (ImportError, ValueError):
        spec = None
    for loc in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(str(loc), "pulumi-plugin.json")
        if os.path.isfile(path):
            with open(path) as f:
                plugin = json.load(f)
            break
    out.append({"name": name, "version": dist.version, "plugin": plugin})
json.dump(out, sys.stdout)
"""


class HostError(Exception):
    """A problem the user can act on; reported to the CLI as the RPC's error, no traceback."""

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Interpreter:
    """The Python a program or plugin runs with, and the environment that activates its venv."""

    python: str
    env: dict[str, str]


def activate(env: Mapping[str, str], venv: Path) -> dict[str, str]:
    """`env` with the virtualenv first on PATH, VIRTUAL_ENV set and PYTHONHOME unset (as a
    virtualenv's activate script, and as the official host does)."""
    out = {k: v for k, v in env.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    path = out.get("PATH")
    out["PATH"] = f"{venv / 'bin'}{os.pathsep}{path}" if path else str(venv / "bin")
    out["VIRTUAL_ENV"] = str(venv)
    return out


def interpreter(info: language_pb2.ProgramInfo, env: Mapping[str, str]) -> Interpreter:
    """Resolve Pulumi.yaml's runtime options (`toolchain`, `virtualenv`) for `info`."""
    options: dict[str, Any] = json_format.MessageToDict(info.options)
    toolchain = options.get("toolchain", "pip")
    if toolchain != "pip":
        raise HostError(f"runtime option toolchain: {toolchain!r} is not supported by the {STAND_IN}")
    if options.get("typechecker"):
        raise HostError(f"runtime option typechecker is not supported by the {STAND_IN}")
    venv_opt = options.get("virtualenv")
    if not venv_opt:
        return Interpreter(env.get("PULUMI_PYTHON_CMD") or "python3", dict(env))
    venv = Path(info.root_directory, str(venv_opt))
    if not (venv / "bin" / "python").is_file():
        state = "doesn't exist" if not venv.exists() else "doesn't appear to be a virtual environment"
        raise HostError(
            f"The 'virtualenv' option in Pulumi.yaml is set to {venv_opt!r}, but {str(venv)!r} {state}; "
            f"create it with `pulumi install` (or `make setup` in this repository)"
        )
    return Interpreter(str(venv / "bin" / "python"), activate(env, venv))


_PEP440 = re.compile(r"^(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?$")
_PRE = {"a": "alpha", "b": "beta", "rc": "rc"}


def plugin_version(package_version: str) -> str | None:
    """A PEP 440 package version as a plugin's semver (1.2 -> 1.2.0, 1.2.3a4 -> 1.2.3-alpha.4,
    1.2.3.post4.dev5 -> 1.2.3+post4dev5), or None when it has no such translation."""
    m = _PEP440.match(package_version)
    if not m:
        return None
    release, pre, pre_n, post, dev = m.groups()
    parts = release.split(".")
    out = ".".join(parts + ["0"] * (3 - len(parts)))
    if pre:
        out += f"-{_PRE[pre]}.{pre_n}"
    build = (f"post{post}" if post else "") + (f"dev{dev}" if dev else "")
    return out + (f"+{build}" if build else "")


def required_packages(listing: list[dict[str, Any]]) -> list[plugin_pb2.PackageDependency]:
    """The resource plugins a virtualenv's packages need (the official host's rules): packages with
    a pulumi-plugin.json whose `resource` is true, and `pulumi-*` packages without one."""
    out = []
    for pkg in listing:
        name, plugin = str(pkg["name"]), pkg.get("plugin")
        if name.lower() in NO_PLUGIN or (plugin is None and not name.lower().startswith("pulumi-")):
            continue
        plugin = plugin or {}
        if plugin and not plugin.get("resource"):
            continue
        if plugin.get("parameterization") or plugin.get("extensionParameterization"):
            raise HostError(f"package {name}: parameterized packages are not supported by the {STAND_IN}")
        version = plugin.get("version") or plugin_version(str(pkg["version"]))
        if not version:
            continue  # no plugin version can be derived (the official host skips these too)
        out.append(
            plugin_pb2.PackageDependency(
                name=plugin.get("name") or name.lower().removeprefix("pulumi-"),
                version=version if version.startswith("v") else f"v{version}",
                kind="resource",
                server=plugin.get("server", ""),
            )
        )
    return out


def run_arguments(request: language_pb2.RunRequest, engine: str) -> list[str]:
    """pulumi-language-python-exec's arguments for a Run request (empty values are left out)."""
    flags = {
        "monitor": request.monitor_address,
        "engine": engine,
        "project": request.project,
        "root_directory": request.info.root_directory,
        "stack": request.stack,
        "pwd": request.pwd,
        "dry_run": "true" if request.dryRun else "false",
        "parallel": str(request.parallel),
        "organization": request.organization,
    }
    args = [arg for k, v in flags.items() if v for arg in (f"--{k}", v)]
    return [*args, request.info.entry_point or ".", *request.args]


def run_environment(request: language_pb2.RunRequest, env: Mapping[str, str]) -> dict[str, str]:
    """The program's environment: its config and the names of the secret keys, as JSON."""
    out = dict(env)
    if request.config:
        out["PULUMI_CONFIG"] = json.dumps(dict(request.config))
    out["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
    return out


def run_result(returncode: int) -> language_pb2.RunResponse:
    if returncode == 0:
        return language_pb2.RunResponse()
    if returncode == USER_ACTIONABLE_EXIT:
        return language_pb2.RunResponse(bail=True)
    if returncode < 0:
        return language_pb2.RunResponse(error=f"program exited unexpectedly: signal {-returncode}")
    return language_pb2.RunResponse(error=f"program exited with non-zero exit code: {returncode}")


def interrupt(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a child the engine no longer waits for: SIGTERM (Python exits without a traceback, unlike
    on SIGINT), then SIGKILL after `grace` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()

    def kill_late() -> None:
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()

    threading.Thread(target=kill_late, daemon=True).start()


def environ_list(entries: Iterator[str] | list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if sep:
            out[key] = value  # later entries win, as in exec
    return out


Request = TypeVar("Request")
Response = TypeVar("Response")


def unary(
    fn: Callable[[LanguageHost, Request, grpc.ServicerContext], Response],
) -> Callable[[LanguageHost, Request, grpc.ServicerContext], Response]:
    """Turn HostError (and any bug) into a gRPC status with a one-line message, never a traceback."""

    def wrapped(self: LanguageHost, request: Request, context: grpc.ServicerContext) -> Response:
        try:
            return fn(self, request, context)
        except HostError as e:
            context.abort(e.code, str(e))
        except Exception as e:  # a bug: reported to the CLI instead of a server-side traceback
            context.abort(grpc.StatusCode.INTERNAL, f"{STAND_IN}: {type(e).__name__}: {e}")

    wrapped.__name__ = fn.__name__
    return wrapped


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, exec_script: str, engine: str) -> None:
        self.exec_script = exec_script
        self.engine = engine
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def _output(self, python: Interpreter, *args: str) -> str:
        cmd = [python.python, *args]
        out = subprocess.run(cmd, env=python.env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise HostError(f"`{python.python} {args[0]}` failed: {out.stderr.strip()[-500:]}")
        return out.stdout

    @unary
    def Handshake(  # noqa: N802 - gRPC method names
        self, request: language_pb2.LanguageHandshakeRequest, context: grpc.ServicerContext
    ) -> language_pb2.LanguageHandshakeResponse:
        self.engine = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    @unary
    def GetPluginInfo(  # noqa: N802
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> plugin_pb2.PluginInfo:
        return plugin_pb2.PluginInfo(version=VERSION)

    @unary
    def GetRequiredPackages(  # noqa: N802
        self, request: language_pb2.GetRequiredPackagesRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetRequiredPackagesResponse:
        python = interpreter(request.info, os.environ)
        listing = json.loads(self._output(python, "-c", LIST_PACKAGES))
        return language_pb2.GetRequiredPackagesResponse(packages=required_packages(listing))

    @unary
    def Run(  # noqa: N802
        self, request: language_pb2.RunRequest, context: grpc.ServicerContext
    ) -> language_pb2.RunResponse:
        if request.attach_debugger:
            return language_pb2.RunResponse(error=f"attaching a debugger is not supported by the {STAND_IN}")
        try:
            python = interpreter(request.info, os.environ)
        except HostError as e:
            return language_pb2.RunResponse(error=str(e))
        cmd = [python.python, self.exec_script, *run_arguments(request, self.engine)]
        try:
            # stdout and stderr stay this process's: the CLI shows them as the program's output.
            # Own session: the CLI interrupts the host's process group when it is done; the host
            # then stops the program itself (see interrupt).
            proc = subprocess.Popen(cmd, env=run_environment(request, python.env), start_new_session=True)
        except OSError as e:
            return language_pb2.RunResponse(
                error=f"problem executing program (could not run language executor): {e}"
            )
        with self._lock:
            self._running.add(proc)
        context.add_callback(lambda: interrupt(proc))  # the engine gave up on this run
        try:
            return run_result(proc.wait())
        finally:
            with self._lock:
                self._running.discard(proc)

    def RunPlugin(  # noqa: N802
        self, request: language_pb2.RunPluginRequest, context: grpc.ServicerContext
    ) -> Iterator[language_pb2.RunPluginResponse]:
        if request.kind != "analyzer":
            context.abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"{request.kind} plugins in Python ({request.name}) are not supported by the {STAND_IN}",
            )
        try:
            python = interpreter(request.info, environ_list(list(request.env)) or os.environ)
        except HostError as e:
            context.abort(e.code, str(e))
        # As the official host: the pack's directory last, and as the working directory.
        cmd = [python.python, "-u", "-m", "pulumi.policy", *request.args, request.info.program_directory]
        proc = subprocess.Popen(
            cmd,
            env=python.env,
            cwd=request.info.program_directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        context.add_callback(lambda: interrupt(proc))  # the engine closes the plugin by cancelling
        chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()

        def pump(name: str, stream: Any) -> None:
            while data := os.read(stream.fileno(), 65536):
                chunks.put((name, data))
            chunks.put((name, b""))

        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            threading.Thread(target=pump, args=(name, stream), daemon=True).start()
        open_streams = 2
        while open_streams:
            name, data = chunks.get()
            if not data:
                open_streams -= 1
            elif name == "stdout":
                yield language_pb2.RunPluginResponse(stdout=data)
            else:
                yield language_pb2.RunPluginResponse(stderr=data)
        yield language_pb2.RunPluginResponse(exitcode=proc.wait())

    def InstallDependencies(  # noqa: N802
        self, request: language_pb2.InstallDependenciesRequest, context: grpc.ServicerContext
    ) -> Iterator[language_pb2.InstallDependenciesResponse]:
        def say(text: str) -> language_pb2.InstallDependenciesResponse:
            return language_pb2.InstallDependenciesResponse(stdout=text.encode())

        options: dict[str, Any] = json_format.MessageToDict(request.info.options)
        directory = Path(request.info.program_directory or request.directory)
        yield say("Installing dependencies...\n\n")
        steps: list[list[str]] = []
        venv_opt = options.get("virtualenv")
        if venv_opt and not (Path(request.info.root_directory, venv_opt) / "bin" / "python").is_file():
            steps.append(["python3", "-m", "venv", str(Path(request.info.root_directory, venv_opt))])
        if (directory / "requirements.txt").is_file():
            steps.append(["@python", "-m", "pip", "install", "-r", "requirements.txt"])
        for step in steps:
            env = dict(os.environ)
            if step[0] == "@python":
                try:
                    python = interpreter(request.info, os.environ)
                except HostError as e:
                    context.abort(e.code, str(e))
                step, env = [python.python, *step[1:]], python.env
            yield say(f"$ {' '.join(step)}\n")
            proc = subprocess.Popen(
                step, cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                yield language_pb2.InstallDependenciesResponse(stdout=line)
            if proc.wait() != 0:
                context.abort(grpc.StatusCode.ABORTED, f"`{' '.join(step)}` failed (exit {proc.returncode})")
        yield say("Finished installing dependencies\n\n")

    @unary
    def About(  # noqa: N802
        self, request: language_pb2.AboutRequest, context: grpc.ServicerContext
    ) -> language_pb2.AboutResponse:
        python = (
            interpreter(request.info, os.environ)
            if request.HasField("info")
            else Interpreter("python3", dict(os.environ))
        )
        executable, version = self._output(
            python, "-c", "import platform, sys; print(sys.executable); print(platform.python_version())"
        ).split()
        pip = self._output(python, "-m", "pip", "--version").split()
        metadata = {"toolchain": "pip", "toolchainVersion": pip[1], "typechecker": "None", "host": STAND_IN}
        return language_pb2.AboutResponse(executable=executable, version=version, metadata=metadata)

    @unary
    def GetProgramDependencies(  # noqa: N802
        self, request: language_pb2.GetProgramDependenciesRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetProgramDependenciesResponse:
        python = interpreter(request.info, os.environ)
        args = ["-m", "pip", "list", "--format", "json"]
        if not request.transitiveDependencies:
            args.append("--not-required")
        listing = json.loads(self._output(python, *args))
        return language_pb2.GetProgramDependenciesResponse(
            dependencies=[language_pb2.DependencyInfo(name=p["name"], version=p["version"]) for p in listing]
        )

    def interrupt_all(self) -> None:
        with self._lock:
            for proc in self._running:
                interrupt(proc)

    @unary
    def Cancel(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:  # noqa: N802
        self.interrupt_all()
        return empty_pb2.Empty()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=f"Pulumi Python language host: {STAND_IN}")
    ap.add_argument("--exec", dest="exec_script", required=True, help="path of pulumi-language-python-exec")
    ap.add_argument("--version", action="store_true", help="print the version and exit")
    ap.add_argument("--tracing", help="ignored (no tracing in the stand-in)")
    ap.add_argument("engine", nargs="?", default="", help="the engine's gRPC address")
    # The CLI may pass its logging flags (-v=N, --logtostderr, --logflow): accepted, ignored.
    args, _ = ap.parse_known_args(argv)
    if args.version:
        print(VERSION)
        return 0
    if not os.path.isfile(args.exec_script):
        print(f"pulumi-language-python ({STAND_IN}): missing executor {args.exec_script}", file=sys.stderr)
        return 1
    host = LanguageHost(args.exec_script, args.engine)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=GRPC_OPTIONS)
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)  # the CLI reads the port from the first line of stdout

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()
    while not stop.wait(1.0):
        if os.getppid() != parent:  # the CLI is gone: do not linger
            break
    host.interrupt_all()
    server.stop(grace=1.0).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
