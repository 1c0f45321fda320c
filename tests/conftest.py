"""Suite-wide settings. Notebooks under tests/ are fixtures (submissions, attacks), not nbval targets."""
collect_ignore_glob = ["*.ipynb"]
