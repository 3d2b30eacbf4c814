"""Worked examples built on the toolkit (run each file as a script); not part of the library."""
