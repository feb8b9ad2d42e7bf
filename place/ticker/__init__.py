"""The ticker: turns the placement stream into deltas and snapshots, one active at a time."""
