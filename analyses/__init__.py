"""Reproducible studies: scenario x algorithm x seeds -> tidy results -> figures."""
