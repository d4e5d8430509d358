"""Pure rules of the flow service: no I/O, no HTTP."""
