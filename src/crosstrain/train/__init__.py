"""Training and transfer: one pipeline where ``scratch`` and the transfer strategies differ only in
the initial model."""
