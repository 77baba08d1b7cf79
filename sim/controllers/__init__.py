"""Kubernetes controllers of the built-in cluster: Deployments, ReplicaSets, Jobs and CronJobs."""
