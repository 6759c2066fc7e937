"""Experiments over many runs: sweeps, the claims' retest, its report and plots."""
