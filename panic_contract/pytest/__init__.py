"""The pytest integration: the plugin's hooks, the run it keeps in the config, and its xdist wiring."""
