"""The suite's own lab (`.lab-e2e`): reset at the start (whatever ran in it before is gone) and at
the end, so every run starts from the same cluster and the same empty masters. The user's lab
(`.lab`, what `make up` deployed the dev stack into) is stopped meanwhile, its cluster and disks
kept, and brought back afterwards if it was up: the dev stack stays in step with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.lab import own_lab


@pytest.fixture(scope="session")
def lab_up() -> Iterator[None]:
    with own_lab() as output:
        print(output[-300:])
        yield
