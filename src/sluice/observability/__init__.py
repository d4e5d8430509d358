"""Prometheus metrics: run, queue, worker and webhook state read from the metadata database
at scrape time, and the API's own request latency."""
