"""kubetune's library: everything a tuning job does, importable without Prefect running."""
