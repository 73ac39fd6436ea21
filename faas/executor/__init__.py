"""The worker pool, the zygote and the worker runtime."""
