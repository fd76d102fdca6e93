"""Active learning: explore the target element with the transferred model, choose what a committee
disagrees on, label it with DFT, retrain."""
