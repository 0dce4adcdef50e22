"""The bridge's side of the status page: refresh it on the bridge's events, link PRs to run pages.

The bridge knows the run before the run exists because it names it: it
picks the run id (`RunId.new()`), passes it to CI as `RUN_ID` (the CI step
hands it to `ccci-run`/`ccci-quick --run-id`), and so can link the PR
comment to `<base_url>runs/<recipe>-<run id>.html` at once. Until the run
starts that page says "queued" (from the pending build in the bridge's
state); then it is the run's own page.

Invariants:
- Off (`RunPages(None)`) when the bridge has no `ccci_config`, or that
  config has no `status_page`: no render, no link.
- A render never fails or stalls the bridge: it runs on one background
  thread, requests made while it renders coalesce into one more render,
  and a failure is logged and alerted once (`status_page.refresh`).
- A link is made only from a validated recipe name and run id.
"""

from __future__ import annotations

import logging
import threading

from ccci.pure.config import Config
from ccci.pure.names import BadInput, RecipeName, RunId

log = logging.getLogger("ccci")


class RunPages:
    def __init__(self, config: Config | None):
        self.config = config if config is not None and config.status_page is not None else None
        self._lock = threading.Lock()
        self._wanted = False
        self._worker: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.config is not None

    def link(self, recipe: RecipeName, run_id: RunId) -> str:
        """The run's page, or "" when no base URL is set."""
        settings = self.config.status_page if self.config is not None else None
        if settings is None or not settings.base_url:
            return ""
        return f"{settings.base_url.rstrip('/')}/runs/{recipe.value}-{run_id.value}.html"

    def mention(self, recipe: str, run_id: str) -> str:
        """` Page: <link>.` for a PR comment, or "" (no base URL, or no valid run id)."""
        try:
            link = self.link(RecipeName.parse(recipe), RunId.parse(run_id))
        except BadInput:  # a pending build from before run ids: no page to name
            return ""
        return f" Page: {link}" if link else ""

    def refresh(self) -> None:
        """Ask for a render after an event; returns at once."""
        if self.config is None:
            return
        with self._lock:
            self._wanted = True
            if self._worker is not None:
                return  # the running worker renders once more before it ends
            self._worker = threading.Thread(target=self._drain, name="ccci-bridge-page", daemon=True)
            self._worker.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Until the renders asked for are done (poll --once, tests); False on timeout."""
        with self._lock:
            worker = self._worker
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    def _drain(self) -> None:
        from ccci.capabilities import status_page  # the bridge imports the renderer only when it renders

        assert self.config is not None
        while True:
            with self._lock:
                if not self._wanted:
                    self._worker = None
                    return
                self._wanted = False
            try:
                status_page.refresh(self.config)  # logs and alerts once; never raises
            except BaseException as error:  # noqa: BLE001 - the thread must end cleanly whatever happened
                log.warning("status page: refresh from the bridge failed: %s: %s", type(error).__name__, error)
