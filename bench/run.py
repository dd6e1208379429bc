"""`make bench` / `make bench-quick`: relaygraph side by side with the official
LangGraph dev server. See README.md, "Benchmarks", and `bench/run.py --help`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serverbench.main import main

if __name__ == "__main__":
    sys.exit(main())
