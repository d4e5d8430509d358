"""The engine: claiming due runs, executing them, scheduling ticks."""
