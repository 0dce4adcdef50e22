"""A recipe's git repository: a run's checkout (clone, releases, refs) and a throwaway mirror.

All git calls go through `proc`. The clone is the run's own (abra moves the
checkout between tags, so runs must never share one). A `Mirror` is a bare
clone in a temporary folder, gone when its block ends: an infra reconcile
reads the upstream's tags and release notes there, so that nothing under the
state directory changes until it decides to act.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from ccci.seams import proc
from ccci.pure.names import BadInput, Ref
from ccci.pure.versions import Release, releases


class UnknownRef(BadInput):
    """The ref names nothing in the recipe's repository."""


@attrs.frozen
class Checkout:
    path: Path
    calls: proc.Calls

    def git(self, *words: str, check: bool = True) -> proc.Completed:
        return proc.run(
            ["git", "-C", str(self.path), *words],
            env={"GIT_TERMINAL_PROMPT": "0"},
            calls=self.calls,
            check=check,
            timeout=300,
        )

    @classmethod
    def clone(cls, url: str, dest: Path, calls: proc.Calls) -> Checkout:
        dest.parent.mkdir(parents=True, exist_ok=True)
        proc.run(
            ["git", "clone", "--quiet", "--no-checkout", "--", url, str(dest)],
            env={"GIT_TERMINAL_PROMPT": "0"},
            calls=calls,
            timeout=600,
        )
        checkout = cls(dest, calls)
        checkout.git("checkout", "--quiet", "--detach", "HEAD")
        return checkout

    def releases(self) -> list[Release]:
        return releases(self.git("tag", "--list").output.split())

    def latest(self) -> Release | None:
        found = self.releases()
        return found[-1] if found else None

    def resolve(self, ref: Ref) -> str:
        """The commit a ref names; fetches PR-style refs the clone lacks."""
        found = self.git("rev-parse", "--verify", "--quiet", f"{ref.value}^{{commit}}", check=False)
        if found.exit_code != 0:
            for candidate in (f"origin/{ref.value}",):
                again = self.git("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False)
                if again.exit_code == 0:
                    return again.output.strip()
            fetched = self.git("fetch", "--quiet", "origin", "--", ref.value, check=False)
            if fetched.exit_code != 0:
                raise UnknownRef(f"ref {ref.value!r} is not in the recipe's repository")
            found = self.git("rev-parse", "--verify", "FETCH_HEAD^{commit}")
        return found.output.strip()

    def release_at(self, commit: str) -> Release | None:
        """The release tag pointing at `commit`, if the commit is a release."""
        tags = self.git("tag", "--points-at", commit).output.split()
        found = releases(tags)
        return found[-1] if found else None

    def fetch_tags(self, mirror: Mirror) -> None:
        """Bring the mirror's tags (new releases, moved tags) into this checkout."""
        self.git("fetch", "--quiet", "--force", str(mirror.git_dir), "+refs/tags/*:refs/tags/*")

    def checkout(self, commit: str) -> None:
        self.git("checkout", "--quiet", "--force", "--detach", commit)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").output.strip()

    def tests_dir(self) -> Path:
        """Where a recipe keeps its own ccci tests."""
        return self.path / "tests" / "ccci"


@attrs.frozen
class Mirror:
    """A bare clone of a recipe's repository, for reading only."""

    git_dir: Path
    calls: proc.Calls

    @classmethod
    @contextmanager
    def cloned(cls, url: str, prefix: str, calls: proc.Calls) -> Iterator[Mirror]:
        """A fresh mirror of `url` for the block, removed after."""
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            git_dir = Path(tmp) / "mirror.git"
            proc.run(["git", "clone", "--quiet", "--mirror", "--", url, str(git_dir)],
                     env={"GIT_TERMINAL_PROMPT": "0"}, calls=calls, timeout=600)
            yield cls(git_dir, calls)

    def _git(self, *words: str, check: bool = True) -> proc.Completed:
        return proc.run(["git", "--git-dir", str(self.git_dir), *words], check=check, calls=self.calls, timeout=60)

    def tags(self) -> list[str]:
        return self._git("tag", "--list").output.split()

    def commit_of(self, tag: str) -> str:
        """The commit `tag` points at; "" when there is no such tag."""
        found = self._git("rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}", check=False)
        return found.output.strip() if found.exit_code == 0 else ""
