"""The suite's own lab (`.lab-e2e`): reset at the start (whatever ran in it before is gone) and at
the end, so every run starts from the same cluster and the same empty masters. The user's lab
(`.lab`, what `make up` deployed the dev stack into) is stopped meanwhile, its cluster and disks
kept, and brought back afterwards if it was up: the dev stack stays in step with it.

Shared fixtures: `kube` (the lab's API server as its admin), `module_stacks` (stacks that live as
long as the test module: a module makes its own `stack` with it), `new_stack` (stacks that live as
long as one test), and `deployed` (the module's `stack` at the dev config, deployed). A module's
`FIGURES` (what it measured) are written when it ends (harness.lab.write_figures).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.kube import Kube
from harness.lab import dev_config, own_lab, write_figures
from harness.stacks import LabStack, Stacks, lab_passphrase


@pytest.fixture(scope="session")
def lab_up() -> Iterator[None]:
    with own_lab() as output:
        print(output[-300:])
        yield


@pytest.fixture(scope="module", autouse=True)
def passphrase() -> Iterator[None]:
    """Each module's lab stacks run inline with their passphrase (harness.stacks.lab_passphrase)."""
    with lab_passphrase():
        yield


@pytest.fixture(scope="module", autouse=True)
def module_figures(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    figures = getattr(request.module, "FIGURES", None)
    if figures:
        write_figures(request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"), figures)


@pytest.fixture(scope="module")
def kube(lab_up: None) -> Kube:
    return Kube.admin()


@pytest.fixture(scope="module")
def module_stacks(lab_up: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stacks]:
    with Stacks(tmp_path_factory.mktemp) as stacks:
        yield stacks


@pytest.fixture
def new_stack(lab_up: None, tmp_path: Path) -> Iterator[Stacks]:
    with Stacks(lambda name: tmp_path / name) as stacks:
        yield stacks


@pytest.fixture
def deployed(stack: LabStack) -> LabStack:
    """The module's `stack` (a fixture of the module) at the dev config, deployed: by the first
    test that asks, then a no-op `up`, or an `up` that undoes what the test before it changed."""
    stack.apply(dev_config())
    return stack
