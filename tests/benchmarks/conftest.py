"""Tests of the benchmark scripts: each runs its script at a small size, as a subprocess or
imported. The scripts' folder goes on ``sys.path`` here, once, so a test can import a script
(and the scripts their sibling helper ``training_run``) by its file name."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
