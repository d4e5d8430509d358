"""Service functions: one per API operation, between the routes and the store."""
