"""What validation accepts, the real scheduler accepts: generated valid stack configs, rendered as
the program renders them, loaded by the real kube-scheduler of the lab's version."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.config import load_config
from tests.scheduler_binary import kube_scheduler, load
from tests.strategies import scheduler_configs, valid_configs
from tests.support import Pki, as_raw

pytestmark = pytest.mark.toolchain
VERSION = "v1.37.2"  # the lab's: its binary is built for the lab anyway


@settings(max_examples=30 if settings().max_examples < 1000 else 500)
@given(data=st.data())
def test_configs_validation_accepts_load_in_the_real_scheduler(pki: Pki, data: Any) -> None:
    raw = data.draw(valid_configs(pki))
    raw["kubernetesVersion"] = f"{VERSION.removeprefix('v')}"
    cfg = load_config(as_raw(raw))
    for path, text in scheduler_configs(cfg).items():
        out = load(kube_scheduler(VERSION), text)
        assert out.returncode == 0, (
            f"{path} config refused by kube-scheduler {VERSION}:\n{text}\n{out.stderr[-1500:]}"
        )
        assert "Wrote configuration" in out.stderr


def test_the_loader_does_refuse_what_the_scheduler_refuses() -> None:
    """The check can fail: the scheduler's own validation, on a config we would never render."""
    bad = (
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "leaderElection: {leaderElect: true, leaseDuration: 10s, renewDeadline: 20s, retryPeriod: 2s,\n"
        "  resourceLock: leases, resourceName: x, resourceNamespace: kube-system}\n"
    )
    out = load(kube_scheduler(VERSION), bad)
    assert out.returncode != 0 and "must be greater than `RenewDeadline`" in out.stderr
