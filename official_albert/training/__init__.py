"""Training loop pieces beyond Model Garden's: XLA on any device, one seed."""
