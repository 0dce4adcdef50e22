"""Jobs: the cold run, the quick run, promotion, reconcile, the nightly sweep
and the !testme bridge, each composed from capabilities and seams.
"""
