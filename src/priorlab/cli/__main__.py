"""`python -m priorlab.cli ARGS`: the `priorlab` command without the installed script (the tests run it so)."""

from priorlab.cli import main

if __name__ == "__main__":
    main()
