"""The fixture course's notebooks are grading inputs, not tests: never collect them (e.g. under --nbval)."""
collect_ignore_glob = ["fixtures/*"]
