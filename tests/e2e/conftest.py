"""The lab for end-to-end tests: started fresh (whatever ran in it before is gone) and taken down
at the end, so every run starts from the same cluster and the same empty masters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.lab import lab


@pytest.fixture(scope="session")
def lab_up() -> Iterator[None]:
    lab("down", timeout=300)
    print(lab("up", timeout=1800)[-300:])
    yield
    lab("down", timeout=300)
