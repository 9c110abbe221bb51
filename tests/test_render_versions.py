"""Kubernetes version parsing and what each supported minor accepts."""

from __future__ import annotations

import pytest

from components.render.versions import (
    SUPPORTED_MINORS,
    KubeVersion,
    parse_kube_version,
    removed_scheduler_flags,
    scheduler_config_api_version,
)

ALL_MINORS = range(SUPPORTED_MINORS[0], SUPPORTED_MINORS[1] + 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1.34.2", KubeVersion(1, 34, 2), id="plain"),
        pytest.param("v1.34.2", KubeVersion(1, 34, 2), id="v-prefix"),
        pytest.param("1.29.0", KubeVersion(1, 29, 0), id="lowest-minor"),
        pytest.param("v1.37.2", KubeVersion(1, 37, 2), id="highest-minor"),
        pytest.param(" 1.30.14\n", KubeVersion(1, 30, 14), id="surrounding-whitespace"),
    ],
)
def test_parse_accepts(text: str, expected: KubeVersion) -> None:
    assert parse_kube_version(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("1.28.9", "not supported (supported: 1.29 to 1.37)", id="below-range"),
        pytest.param("1.38.0", "not supported (supported: 1.29 to 1.37)", id="above-range"),
        pytest.param("2.34.0", "not supported (supported: 1.29 to 1.37)", id="major-2"),
        pytest.param("1.34", "not of the form 1.MINOR.PATCH", id="no-patch"),
        pytest.param("v1.34.2-rc.1", "not of the form 1.MINOR.PATCH", id="pre-release"),
        pytest.param("latest", "not of the form 1.MINOR.PATCH", id="word"),
        pytest.param("", "supported: 1.29 to 1.37", id="empty"),
    ],
)
def test_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"supported: 1\.29 to 1\.37") as err:
        parse_kube_version(text)
    assert message in str(err.value)
    assert repr(text) in str(err.value)  # the message quotes the bad value


def test_str_and_tag() -> None:
    version = KubeVersion(1, 34, 2)
    assert str(version) == "1.34.2"
    assert version.tag == "v1.34.2"


@pytest.mark.parametrize("minor", ALL_MINORS, ids=lambda m: f"1.{m}")
def test_config_api_is_v1_on_every_supported_minor(minor: int) -> None:
    # v1 is GA since 1.25; v1beta2 was removed in 1.28 and v1beta3 in 1.29.
    api = scheduler_config_api_version(KubeVersion(1, minor, 0))
    assert api == "kubescheduler.config.k8s.io/v1"


# Facts from cmd/kube-scheduler/app/options at the release tags.
GONE_IN_ALL = ("--port", "--address", "--policy-config-file", "--policy-configmap",
               "--use-legacy-policy-config", "--lock-object-name", "--logtostderr",
               "--alsologtostderr", "--log-dir")  # fmt: skip
STILL_ACCEPTED = ("--config", "--bind-address", "--secure-port", "--tls-cert-file",
                  "--tls-private-key-file", "--authentication-kubeconfig",
                  "--authorization-kubeconfig", "--client-ca-file", "--v",
                  "--kubeconfig", "--leader-elect-resource-name")  # fmt: skip


@pytest.mark.parametrize("minor", ALL_MINORS, ids=lambda m: f"1.{m}")
def test_removed_flags(minor: int) -> None:
    removed = removed_scheduler_flags(KubeVersion(1, minor, 0))
    assert set(GONE_IN_ALL) <= removed
    assert not removed & set(STILL_ACCEPTED)
