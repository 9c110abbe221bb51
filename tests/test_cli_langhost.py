"""The stand-in Python language host (tools/langhost): its rules as tables, then the installed host.

The tables check the host's translations against what the official host documents
(sdk/python/cmd/pulumi-language-python, 3.259.0). The toolchain tests run the host that
scripts/toolchain.sh installed, over gRPC with the SDK's own client stub, and run toolchain.sh
itself on scratch plugin caches to show that the stand-in is installed only where no official
host is found.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

from tools.langhost import pulumi_language_python as host

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("KSCHED_CACHE", Path.home() / ".cache" / "ksched"))
PULUMI_HOME = Path(os.environ.get("PULUMI_HOME", CACHE / "pulumi-home"))
MARK = "ksched stand-in language host"
INSTALLED = PULUMI_HOME / "plugins" / "language-python-v3.259.0" / "pulumi-language-python"


# ---- tables (no toolchain) ----------------------------------------------------------------------


# The translations listed in the official host's determinePluginVersion comment.
@pytest.mark.parametrize(
    ("package", "plugin"),
    [
        ("1.2.3", "1.2.3"),
        ("1.0", "1.0.0"),
        ("4", "4.0.0"),
        ("1.2.3a4", "1.2.3-alpha.4"),
        ("1.2.3b1", "1.2.3-beta.1"),
        ("1.2.3rc4", "1.2.3-rc.4"),
        ("1.2.3.post4", "1.2.3+post4"),
        ("1.2.3.dev5", "1.2.3+dev5"),
        ("1.2.3.post4.dev5", "1.2.3+post4dev5"),
        ("1!2.0", None),
        ("1.2.3-foo", None),
        ("", None),
    ],
)
def test_plugin_version(package: str, plugin: str | None) -> None:
    assert host.plugin_version(package) == plugin


def pkg(name: str, version: str, plugin: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "version": version, "plugin": plugin}


@pytest.mark.parametrize(
    ("listing", "expected"),
    [
        # pulumi-plugin.json names the plugin and its exact version
        (
            [
                pkg(
                    "pulumi_kubernetes",
                    "4.25.0",
                    {"resource": True, "name": "kubernetes", "version": "4.25.0"},
                )
            ],
            [("kubernetes", "v4.25.0", "")],
        ),
        (
            [
                pkg(
                    "pulumi-x",
                    "1.0.0",
                    {"resource": True, "name": "x", "version": "v2.0.0", "server": "s://x"},
                )
            ],
            [("x", "v2.0.0", "s://x")],
        ),
        # resource: false means no plugin
        ([pkg("pulumi-random-helpers", "1.0.0", {"resource": False})], []),
        # pulumi-* without a pulumi-plugin.json: name and version from the package
        ([pkg("pulumi-foo", "1.2", None)], [("foo", "v1.2.0", "")]),
        ([pkg("pulumi-foo", "1.2.3rc1", None)], [("foo", "v1.2.3-rc.1", "")]),
        ([pkg("pulumi-foo", "1!2", None)], []),  # no plugin version can be derived
        # not Pulumi packages, or known to have no plugin
        ([pkg("pulumi", "3.259.0"), pkg("requests", "2.0.0"), pkg("pulumi-policy", "1.21.0")], []),
    ],
)
def test_required_packages(listing: list[dict[str, Any]], expected: list[tuple[str, str, str]]) -> None:
    assert [(p.name, p.version, p.server) for p in host.required_packages(listing)] == expected
    assert all(p.kind == "resource" for p in host.required_packages(listing))


def test_parameterized_packages_are_refused_by_name() -> None:
    listing = [pkg("pulumi-p", "1.0.0", {"resource": True, "parameterization": {"name": "p"}})]
    with pytest.raises(host.HostError, match="package pulumi-p: parameterized packages are not supported"):
        host.required_packages(listing)


def info(root: str = "/proj", **options: Any) -> language_pb2.ProgramInfo:
    opts = struct_pb2.Struct()
    opts.update(options)
    return language_pb2.ProgramInfo(
        root_directory=root, program_directory=root, entry_point=".", options=opts
    )


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        (
            {
                "monitor_address": "127.0.0.1:1",
                "project": "p",
                "stack": "s",
                "pwd": "/proj",
                "dryRun": True,
                "parallel": 8,
                "organization": "org",
                "args": ["a", "b"],
            },
            "--monitor 127.0.0.1:1 --engine 127.0.0.1:2 --project p --root_directory /proj --stack s "
            "--pwd /proj --dry_run true --parallel 8 --organization org . a b",
        ),
        # empty values are left out; dry_run and parallel are always there
        (
            {"project": "p"},
            "--engine 127.0.0.1:2 --project p --root_directory /proj --dry_run false --parallel 0 .",
        ),
    ],
)
def test_run_arguments(request_fields: dict[str, Any], expected: str) -> None:
    request = language_pb2.RunRequest(info=info(), **request_fields)
    assert host.run_arguments(request, "127.0.0.1:2") == expected.split()


@pytest.mark.parametrize(
    ("config", "secret_keys", "expected_config", "expected_keys"),
    [
        ({"p:a": "1", "p:b": '{"x":1}'}, ["p:b"], {"p:a": "1", "p:b": '{"x":1}'}, ["p:b"]),
        ({}, [], None, []),  # no config: no PULUMI_CONFIG, and an empty list of secret keys
    ],
)
def test_run_environment(
    config: dict[str, str],
    secret_keys: list[str],
    expected_config: dict[str, str] | None,
    expected_keys: list[str],
) -> None:
    request = language_pb2.RunRequest(config=config, configSecretKeys=secret_keys)
    env = host.run_environment(request, {"HOME": "/root"})
    assert env["HOME"] == "/root"
    assert (json.loads(env["PULUMI_CONFIG"]) if "PULUMI_CONFIG" in env else None) == expected_config
    assert json.loads(env["PULUMI_CONFIG_SECRET_KEYS"]) == expected_keys


@pytest.mark.parametrize(
    ("returncode", "error", "bail"),
    [
        (0, "", False),
        (32, "", True),  # pulumi-language-python-exec already showed the error
        (1, "program exited with non-zero exit code: 1", False),
        (-9, "program exited unexpectedly: signal 9", False),
    ],
)
def test_run_result(returncode: int, error: str, bail: bool) -> None:
    result = host.run_result(returncode)
    assert (result.error, result.bail) == (error, bail)


def test_interpreter_activates_the_projects_virtualenv(tmp_path: Path) -> None:
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").touch()
    env = {"PATH": "/usr/bin", "PYTHONHOME": "/x", "VIRTUAL_ENV": "/other", "HOME": "/root"}
    got = host.interpreter(info(str(tmp_path), toolchain="pip", virtualenv="venv"), env)
    assert got.python == str(tmp_path / "venv" / "bin" / "python")
    assert got.env == {
        "PATH": f"{tmp_path}/venv/bin:/usr/bin",
        "VIRTUAL_ENV": f"{tmp_path}/venv",
        "HOME": "/root",
    }


@pytest.mark.parametrize(
    ("options", "make", "message"),
    [
        (
            {"virtualenv": "venv"},
            None,
            r"'virtualenv' option in Pulumi.yaml is set to 'venv', but .* doesn't exist",
        ),
        ({"virtualenv": "venv"}, "dir", "doesn't appear to be a virtual environment"),
        ({"toolchain": "poetry"}, None, "toolchain: 'poetry' is not supported by the ksched stand-in"),
        ({"typechecker": "mypy"}, None, "typechecker is not supported by the ksched stand-in"),
    ],
)
def test_interpreter_refusals(
    tmp_path: Path, options: dict[str, str], make: str | None, message: str
) -> None:
    if make == "dir":
        (tmp_path / "venv").mkdir()
    with pytest.raises(host.HostError, match=message):
        host.interpreter(info(str(tmp_path), **options), {})


def test_no_virtualenv_uses_pulumi_python_cmd() -> None:
    assert host.interpreter(info(), {"PULUMI_PYTHON_CMD": "/opt/py"}).python == "/opt/py"
    assert host.interpreter(info(), {}).python == "python3"


# ---- the installed host (toolchain) -----------------------------------------------------------


def _pins() -> dict[str, str]:
    """Plugin versions the project's SDK pins ask for (requirements.txt)."""
    pins = dict(re.findall(r"^pulumi-(\w+)==([\d.]+)$", (ROOT / "requirements.txt").read_text(), re.M))
    return {name: f"v{version}" for name, version in pins.items()}


@pytest.fixture(scope="module")
def served() -> Iterator[language_pb2_grpc.LanguageRuntimeStub]:
    assert INSTALLED.exists(), f"no stand-in host at {INSTALLED}: run `make setup`"
    assert MARK in INSTALLED.read_text()
    proc = subprocess.Popen([str(INSTALLED), "127.0.0.1:1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield language_pb2_grpc.LanguageRuntimeStub(channel)
    finally:
        channel.close()
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        assert proc.wait(10) == 0
        # it stops on SIGINT, as the CLI asks its plugins to, well inside the CLI's 5 s grace
        assert time.monotonic() - start < 5
        assert proc.stderr is not None
        assert b"Traceback" not in proc.stderr.read()


toolchain = pytest.mark.toolchain


@toolchain
def test_installed_host_reports_its_version(served: language_pb2_grpc.LanguageRuntimeStub) -> None:
    assert served.GetPluginInfo(empty_pb2.Empty()).version == "3.259.0"


@toolchain
def test_installed_host_lists_the_plugins_the_project_venv_needs(
    served: language_pb2_grpc.LanguageRuntimeStub,
) -> None:
    request = language_pb2.GetRequiredPackagesRequest(
        info=info(str(ROOT), toolchain="pip", virtualenv=".venv")
    )
    got = {p.name: p.version for p in served.GetRequiredPackages(request).packages}
    assert got == _pins()


@toolchain
def test_installed_host_says_what_it_does_not_do(served: language_pb2_grpc.LanguageRuntimeStub) -> None:
    run = served.Run(language_pb2.RunRequest(info=info("/nonexistent", virtualenv="venv")))
    assert "'virtualenv' option in Pulumi.yaml is set to 'venv'" in run.error
    plugin = language_pb2.RunPluginRequest(kind="resource", name="x", info=info(str(ROOT)))
    with pytest.raises(grpc.RpcError) as err:
        list(served.RunPlugin(plugin))
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "resource plugins in Python (x) are not supported by the ksched stand-in" in str(
        err.value.details()
    )


def _toolchain(home: Path, path_prepend: Path | None = None) -> str:
    """scripts/toolchain.sh with a scratch plugin cache (the shared toolchain cache stays in use)."""
    env = {**os.environ, "PULUMI_HOME": str(home)}
    if path_prepend is not None:
        env["PATH"] = f"{path_prepend}:{env['PATH']}"
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "toolchain.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


@toolchain
def test_toolchain_installs_the_stand_in_only_without_an_official_host(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cached = home / "plugins" / "language-python-v3.259.0" / "pulumi-language-python"
    # 1. nothing official anywhere: the stand-in goes into the plugin cache, and the CLI lists it
    _toolchain(home)
    assert MARK in cached.read_text()
    env = {**os.environ, "PULUMI_HOME": str(home)}
    listed = subprocess.run(["pulumi", "plugin", "ls"], env=env, capture_output=True, text=True, check=True)
    assert re.search(r"^python\s+language\s+3\.259\.0\s", listed.stdout, re.M), listed.stdout
    # 2. an official host on PATH: the stand-in is removed from the cache and nothing is installed
    official_dir = tmp_path / "official"
    official_dir.mkdir()
    official = official_dir / "pulumi-language-python"
    official.write_text("#!/bin/sh\nexit 0\n")
    official.chmod(0o755)
    out = _toolchain(home, official_dir)
    assert f"not needed: official host {official}" in out
    assert not cached.parent.exists()
    # 3. an official host in the plugin cache itself: left exactly as it is
    shutil.copytree(official_dir, cached.parent)
    out = _toolchain(home)
    assert f"not needed: official host {cached}" in out
    assert cached.read_text() == "#!/bin/sh\nexit 0\n"
