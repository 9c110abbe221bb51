"""What the lab suites (tests/e2e) and the benchmarks (bench/) share, and nothing test-only:

- `harness.lab`: the lab's facts, `lab/lab.sh`, a lab of one's own (`own_lab`), the dev config;
- `harness.kube`: the lab's API server (plumbing's KubeClient with the admin certificate);
- `harness.ssh`: a lab machine over SSH (plumbing's one SSH command line, host keys pinned);
- `harness.stacks`: a dev-like stack in a scratch project (Automation API), `make up` as a process;
- `harness.watch`: the masters and the lease sampled during a change;
- `harness.config`, `harness.pki`, `harness.mocks`: stack config as Pulumi stores and hands it
  over, throwaway key material, the program under Pulumi mocks (the unit tests and the mock-scale
  benchmark).
"""
