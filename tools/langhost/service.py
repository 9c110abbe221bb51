"""The LanguageRuntime gRPC service the CLI talks to, one method per RPC: each answers from the
interpreter, packages and runner modules, or says which feature the stand-in does not have."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TypeVar

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

from .common import STAND_IN, VERSION, HostError
from .interpreter import Interpreter, environ_list, interpreter, runtime_options
from .packages import LIST_PACKAGES, required_packages
from .runner import interrupt, run_arguments, run_environment, run_result

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
            python = interpreter(request.info, environ_list(request.env) or os.environ)
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

        def pump(name: str, stream: IO[bytes] | None) -> None:
            assert stream is not None  # stdout and stderr are pipes
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

        options = runtime_options(request.info)
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
