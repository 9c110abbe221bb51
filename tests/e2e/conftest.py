"""The lab for end-to-end tests: brought up if needed, and taken down again if this run started it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.lab import LAB, lab


@pytest.fixture(scope="session")
def lab_up() -> Iterator[None]:
    was_up = (LAB / "run" / "kube-apiserver.pid").exists()
    print(lab("up", timeout=1800)[-300:])
    yield
    if not was_up:
        lab("down")
