"""The pure layer: values, parsing and decisions with no I/O at all.

Nothing here imports Docker, abra, HTTP or the file system beyond reading
what it is handed, so every module is tested with hypothesis alone.
"""
