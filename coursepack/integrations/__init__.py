"""What integrators build on: the events feed, idempotent retries and webhooks."""
