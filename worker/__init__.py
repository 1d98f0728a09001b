"""RQ jobs, the worker process and the model registry in Redis."""
