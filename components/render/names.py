"""Kubernetes name and label syntax (k8s.io/apimachinery/pkg/util/validation)."""

from __future__ import annotations

import re

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_LABEL = re.compile(rf"(?=.{{1,63}}$){_LABEL}")
_DNS_SUBDOMAIN = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")
# Label names and values, and the name part of qualified names.
_QUALIFIED_NAME_PART = re.compile(r"(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def is_dns_label(value: str) -> bool:
    """Namespaces, Deployment/pod-level names (RFC 1123 label)."""
    return _DNS_LABEL.fullmatch(value) is not None


def is_dns_subdomain(value: str) -> bool:
    """Most object names: leases, ConfigMaps, ServiceAccounts, scheduler names."""
    return _DNS_SUBDOMAIN.fullmatch(value) is not None


def is_qualified_name(value: str) -> bool:
    """Label keys and resource names: optional DNS-subdomain prefix, "/", name."""
    prefix, slash, name = value.rpartition("/")
    if slash and not is_dns_subdomain(prefix):
        return False
    return _QUALIFIED_NAME_PART.fullmatch(name) is not None


def is_label_value(value: str) -> bool:
    return value == "" or _QUALIFIED_NAME_PART.fullmatch(value) is not None
