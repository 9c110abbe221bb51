"""Shared fixtures: a throwaway CA and SSH host keys made per test session, never stored."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support import Pki, make_pki  # noqa: E402


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()
