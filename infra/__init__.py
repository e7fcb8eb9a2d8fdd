"""Plumbing both sides use, no formats of their own: reading the environment, finding Redis (a URL
or Sentinels), calling Redis scripts, how MongoDB is written. Imports neither side."""
