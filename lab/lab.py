#!/usr/bin/env python3
"""Local test lab for the kube-scheduler project (python3 stdlib only): see ksched_lab/__init__.py
and lab/README.md.

    lab/lab.sh up | down | reset | status | stop-master NAME | start-master NAME | restart-apiserver
"""

import sys

from ksched_lab.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
