"""kube-scheduler, deployed per stack: read and validate config, build the components, export."""

import pulumi

from components.config import ConfigError, load_config, program_values
from components.stack import build

try:
    config = load_config(program_values())
except ConfigError as e:
    # Raised before any resource is registered: invalid input creates nothing.
    raise SystemExit(str(e)) from None

for key, value in build(config).items():
    pulumi.export(key, value)
