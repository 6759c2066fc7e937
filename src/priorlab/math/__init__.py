"""Real math benchmarks: data files, prompt templates, answer grading with Math-Verify."""
