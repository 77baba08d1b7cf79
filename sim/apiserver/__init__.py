"""Generic Kubernetes API-server machinery: store, watches, REST operations, validation, discovery, tables."""
