"""What every stage shares: run directories and atomic writes, statistics."""
