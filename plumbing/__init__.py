"""Plumbing that the program, the scripts, the lab, the policy pack, the tests and the benchmarks
share: one SSH command line (ssh.py), one kubeconfig (kubeconfig.py), one small Kubernetes API
client (kube_api.py), in-memory files for key material (memfile.py), the engine's wire constants
(pulumi_wire.py) and the project's name (project.py). Python's standard library only, so that the
lab (which runs before any virtualenv exists) and the policy pack (its own virtualenv) can use it;
kube_api needs PyYAML only to parse a YAML kubeconfig."""
