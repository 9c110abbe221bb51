"""The names of the program's components and of a master's steps, made and read back in one place:
the components name their resources with them, and the scripts find those resources again in the
state (scripts/host_state.py) and in a preview (scripts/preview_report.py)."""

from __future__ import annotations

import re

# Component type tokens (package:module:Name).
MASTERS_TYPE = "kube-scheduler:baremetal:BareMetalSchedulers"
HOST_TYPE = "kube-scheduler:baremetal:SchedulerHost"
CERTIFICATE_TYPE = "kube-scheduler:pki:SchedulerCertificate"
IN_CLUSTER_TYPE = "kube-scheduler:incluster:InClusterScheduler"
MONITORING_TYPE = "kube-scheduler:monitoring:SchedulerMonitoring"

MASTERS = "masters"  # the BareMetalSchedulers component
IN_CLUSTER = "custom"  # the InClusterScheduler component
MONITORING = "monitoring"  # the SchedulerMonitoring component

# A master's steps, in the order they run.
PREPARE = "prepare"
UPLOAD = "binary-upload"
BINARY = "binary"
SERVICE = "service"


def host_component(host: str) -> str:
    """The SchedulerHost (and SchedulerCertificate) of master `host`."""
    return f"{MASTERS}-{host}"


def file_step(label: str) -> str:
    return f"file-{label}"


def step(host: str, what: str) -> str:
    """A step of master `host`: `step("master-1", SERVICE)` -> "masters-master-1-service"."""
    return f"{host_component(host)}-{what}"


_STEP = re.compile(rf"{MASTERS}-(?P<host>.+?)-(?P<what>file-[a-z]+|{UPLOAD}|{BINARY}|{PREPARE}|{SERVICE})")


def parse_step(name: str) -> tuple[str, str] | None:
    """(host, what) of a step's resource name, or None for any other resource."""
    found = _STEP.fullmatch(name)
    return (found["host"], found["what"]) if found else None
