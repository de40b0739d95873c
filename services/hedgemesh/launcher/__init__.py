"""The local launcher: the one list of services (`catalog`), the process supervisor, and the
cluster state file that `hedgemesh status`, `kill` and `logs` read."""
