"""This project's name in Pulumi: Pulumi.yaml's `name`, the prefix of every config key, part of
every URN, and the name of its policy pack. Standard library only: the policy pack, which runs in
its own venv without the program's packages, imports it too. (The component type tokens are
components/steps.py's.)"""

from __future__ import annotations

PROJECT = "kube-scheduler"

# The passphrase of the local stacks' secrets provider: documented, NOT a secret. It may only ever
# encrypt stacks that hold nothing secret of anyone's (the lab's dev stack, the render stack);
# every other stack brings its own (README: team use).
DEV_PASSPHRASE = "dev-stack-passphrase-not-secret"
LOCAL_STACKS = ("dev", "render")
