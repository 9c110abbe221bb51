"""kube-scheduler, deployed per stack: read and validate config, build the components, export."""

from components.config import ConfigError
from components.stack import program

try:
    program()
except ConfigError as e:
    # Raised before any resource is registered: invalid input creates nothing.
    raise SystemExit(str(e)) from None
