"""Capabilities: what the jobs are composed of.

Each module does one thing through the seams (snapshot a volume set, check
health, gate a release, lease a realm, hold a lock, raise an alert) and knows
nothing of the jobs that use it.
"""
