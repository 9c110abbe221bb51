"""Plumbing that the program, the scripts, the lab, the tests and the benchmarks share: one SSH
command line, one kubeconfig, one small Kubernetes API client. Python's standard library only, so
that the lab (which runs before any virtualenv exists) can use it too."""
