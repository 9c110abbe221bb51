"""The version-skew policy, checked before anything is applied.

https://kubernetes.io/releases/version-skew-policy/#kube-controller-manager-kube-scheduler-and-cloud-controller-manager:
"kube-controller-manager, kube-scheduler, and cloud-controller-manager must not be newer than the
kube-apiserver instances they communicate with. They are expected to match the kube-apiserver minor
version, but may be up to one minor version older (to allow live upgrades)."
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable

from components.config import Problem
from components.render.versions import KubeVersion, parse_kube_version

RULE = (
    "kube-scheduler must not be newer than the kube-apiserver it talks to, and may be at most one "
    "minor version older (Kubernetes version skew policy)"
)


def skew_problem(scheduler: KubeVersion, apiserver: KubeVersion) -> str | None:
    """Why `scheduler` may not talk to `apiserver`, or None when the policy allows it."""
    if (scheduler.major, scheduler.minor) > (apiserver.major, apiserver.minor):
        return f"newer than the API server's {apiserver}"
    if scheduler.major != apiserver.major or apiserver.minor - scheduler.minor > 1:
        return f"more than one minor older than the API server's {apiserver}"
    return None


def apiserver_version(url: str, ca_pem: str, timeout: float = 5.0) -> KubeVersion:
    """GET <url>/version (public: system:public-info-viewer), the server verified with the CA."""
    ctx = ssl.create_default_context(cadata=ca_pem)
    with urllib.request.urlopen(f"{url}/version", context=ctx, timeout=timeout) as resp:
        info = json.loads(resp.read())
    return parse_kube_version(str(info["gitVersion"]).split("+", 1)[0].split("-", 1)[0])


def skew_problems(
    scheduler: KubeVersion,
    urls: Iterable[str],
    ca_pem: str,
    read: Callable[[str, str], KubeVersion] = apiserver_version,
) -> tuple[list[Problem], list[str]]:
    """(problems, warnings) for every distinct API server URL: a problem names the key and quotes
    the rule; an API server that cannot be read from here is a warning (nothing to check against)."""
    problems: list[Problem] = []
    warnings: list[str] = []
    for url in sorted(set(urls)):
        try:
            version = read(url, ca_pem)
        except (OSError, ValueError, KeyError, ssl.SSLError, urllib.error.URLError) as e:
            reason = getattr(e, "reason", e)
            warnings.append(
                f"could not read the version of the API server at {url} ({reason}): skew not checked"
            )
            continue
        why = skew_problem(scheduler, version)
        if why is not None:
            problems.append(
                Problem(
                    "kubernetesVersion",
                    f"expected a version the API server at {url} (v{version}) supports: {RULE}; "
                    f"got {scheduler}, {why}",
                )
            )
    return problems, warnings
