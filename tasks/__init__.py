"""One module per pipeline step. Each step is a plain function of a ``RunContext``."""
