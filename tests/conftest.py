"""Shared fixtures: a throwaway CA and SSH host keys made per test session, never stored."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import Pki, make_pki  # noqa: E402


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()


# Generated configs: a few hundred in `make test`, many more in `make fuzz`.
_RELAXED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
settings.register_profile("default", max_examples=150, deadline=None, suppress_health_check=_RELAXED)
settings.register_profile("fuzz", max_examples=3000, deadline=None, suppress_health_check=_RELAXED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
