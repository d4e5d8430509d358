"""One module per built-in connection spec."""
