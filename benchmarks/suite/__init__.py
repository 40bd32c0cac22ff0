"""The benchmark suite: its data generators (`make_*.py`), their registry (`sets.py`)
and the references the runner `benchmarks/suite.py` measures the search against."""
