"""Live progress: the Redis fan-out hub, loss-free feeds, and cohort rendering."""
