"""priorlab: does RLVR teach, or only surface what pretraining put there?

Importing the package does no work; see `priorlab.cli` for the command line.
"""

__version__ = "0.1.0"
