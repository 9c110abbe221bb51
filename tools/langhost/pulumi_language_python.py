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

This module is the entry point (command line, server, signals); the parts are `service` (the gRPC
methods), `interpreter` (Pulumi.yaml's runtime options), `packages` (the plugins a venv needs),
`runner` (running the program) and `common`. scripts/toolchain/langhost.sh copies them into a venv
of their own as the package `ksched_langhost` and installs a launcher into the plugin cache, only
where no official host exists; the CLI prefers a host on PATH or beside itself, so an official host
is always used when present.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from pulumi.runtime.proto import language_pb2_grpc

from .common import STAND_IN, VERSION, HostError
from .interpreter import Interpreter, interpreter
from .packages import plugin_version, required_packages
from .runner import run_arguments, run_environment, run_result
from .service import LanguageHost

# Re-exported: tests/test_cli_langhost.py checks the rules of the parts through this module.
__all__ = [
    "VERSION",
    "HostError",
    "Interpreter",
    "LanguageHost",
    "interpreter",
    "main",
    "plugin_version",
    "required_packages",
    "run_arguments",
    "run_environment",
    "run_result",
]

GRPC_OPTIONS = [("grpc.max_receive_message_length", 400 * 1024 * 1024)]  # as the engine's channels


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
