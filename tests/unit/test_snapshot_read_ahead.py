"""Take's read-ahead advises the files in the order tar reads them (property test, real GNU tar).

The advice only helps if the file advised first is the one tar reads next:
for any tree, the order of the advised files is tar's order of its regular
members.
"""

from __future__ import annotations

import os
import subprocess
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from ccci.capabilities import snapshot

names = st.text(alphabet="abcdefghij0123", min_size=1, max_size=6)
trees = st.recursive(
    st.just(None),  # a file
    lambda children: st.dictionaries(names, children, max_size=5),  # a folder
    max_leaves=25,
).filter(lambda tree: isinstance(tree, dict))


def build(root, tree) -> None:
    for name, child in tree.items():
        if child is None:
            (root / name).write_bytes(b"x")
        else:
            (root / name).mkdir()
            build(root / name, child)


@settings(max_examples=40, deadline=None)
@given(trees)
def test_files_are_advised_in_the_order_tar_reads_them(tmp_path_factory, tree):
    root = tmp_path_factory.mktemp("volume")
    build(root, tree)
    advised: list[str] = []
    real = os.posix_fadvise

    def record(fd, offset, length, advice):
        advised.append(os.path.relpath(os.readlink(f"/proc/self/fd/{fd}"), root))
        return real(fd, offset, length, advice)

    os.posix_fadvise = record
    try:
        snapshot._read_ahead(root, threading.Event())
    finally:
        os.posix_fadvise = real
    listing = subprocess.run(["tar", "-C", str(root), "-cf", "-", "."], capture_output=True, check=True).stdout
    members = subprocess.run(["tar", "-tvf", "-"], input=listing, capture_output=True, check=True).stdout
    tar_files = [line.split(maxsplit=5)[5].removeprefix("./") for line in members.decode().splitlines()
                 if line.startswith("-")]
    assert advised == tar_files
