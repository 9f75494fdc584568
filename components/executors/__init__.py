"""Executors run TrialRequests somewhere (local processes, Kubernetes Jobs) and hand back TrialResults."""
