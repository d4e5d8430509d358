"""Datasets as Delta tables: Arrow schemas, window predicates, exactly-once writer, reader."""
