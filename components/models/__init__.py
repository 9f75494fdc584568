"""Model families: each owns its default search space and how to build its estimator."""
