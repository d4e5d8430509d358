"""The HTTP API: app factory, auth and tenant dependencies, problem errors, routers."""
