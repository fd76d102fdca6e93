"""DFT labels from a real DFT code (GPAW) and the active-learning loop that chooses what to label."""
