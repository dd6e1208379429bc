"""The server benchmark behind `make bench` (entry point: bench/run.py)."""
