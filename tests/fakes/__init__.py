"""Test doubles for check families, to test the runner and store without the real checks.

``family.run`` looks up what to do for the family being run in ``BEHAVIOUR`` (set by a test).
"""
