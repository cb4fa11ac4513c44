"""`make bench`: benchmarks of the source and the receiver on loopback (not part of CI)."""
