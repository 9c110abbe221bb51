"""kube-scheduler, deployed per stack: read and validate config, build the components, export."""

from components.stack import program

program()
