"""Great Expectations suites and the runner that validates lake partitions."""
