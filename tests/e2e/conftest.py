"""The suite's own lab (`.lab-e2e`): reset at the start (whatever ran in it before is gone) and at
the end, so every run starts from the same cluster and the same empty masters. The user's lab
(`.lab`, what `make up` deployed the dev stack into) is stopped meanwhile, its cluster and disks
kept, and brought back afterwards if it was up: the dev stack stays in step with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.lab import USER_LAB, lab, lab_is_up


@pytest.fixture(scope="session")
def lab_up() -> Iterator[None]:
    user_lab_was_up = lab_is_up(USER_LAB)
    if USER_LAB.is_dir():
        lab("down", lab_dir=USER_LAB, timeout=300)
    lab("reset", timeout=300)
    print(lab("up", timeout=1800)[-300:])
    yield
    lab("reset", timeout=300)
    if user_lab_was_up:
        lab("up", lab_dir=USER_LAB, timeout=1800)
