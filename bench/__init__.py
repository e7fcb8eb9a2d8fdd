"""`make bench`: the API and the workers measured against bare floor implementations of the same
work, in one run, on this machine. See bench/__main__.py."""
