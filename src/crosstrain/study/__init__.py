"""The transfer study: learning curves over sizes x seeds x strategies with hyperparameter search."""
