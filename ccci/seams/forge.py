"""The Gitea / Forgejo API, as far as the bridge needs it (both speak /api/v1).

Who may trigger: a repository collaborator (204 from
`/repos/{owner}/{repo}/collaborators/{login}`), the owner of a user-owned
repository, or a member of the owning organization (204 from
`/orgs/{owner}/members/{login}`). A 404 means "no"; anything else (an error
status, a redirect, no reply, a body we cannot read) raises `ForgeError`,
and the caller fails closed. The token goes in the Authorization header only.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import attrs

from ccci.seams import http
from ccci.pure.bridge_config import Secret
from ccci.pure.webhook import CommentEvent, is_commit

PAGE = 50


class ForgeError(Exception):
    """The forge API did not give a usable answer."""


class StatusState:
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


@attrs.frozen
class OpenPull:
    number: int
    head_sha: str


@attrs.frozen
class PolledComment:
    id: int
    body: str
    author: str
    edited: bool


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


class Forge:
    def __init__(self, url: str, token: Secret, timeout: float, call: Callable[..., http.Reply] | None = None):
        self.api = url.rstrip("/") + "/api/v1"
        self._token = token
        self._timeout = timeout
        self._call = call or http.call

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> http.Reply:
        headers = {"Authorization": f"token {self._token.value}", "Accept": "application/json"}
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload).encode()
        try:
            return self._call(method, self.api + path, headers=headers, body=body, timeout=self._timeout)
        except http.HttpError as error:
            raise ForgeError(str(error)) from None

    def _json(self, path: str) -> Any:
        reply = self._request("GET", path)
        if reply.status != 200:
            raise ForgeError(f"GET {path}: HTTP {reply.status}")
        try:
            return json.loads(reply.body)
        except ValueError:
            raise ForgeError(f"GET {path}: the reply is not JSON") from None

    def _yes_no(self, path: str) -> bool:
        reply = self._request("GET", path)
        if reply.status == 204:
            return True
        if reply.status == 404:
            return False
        raise ForgeError(f"GET {path}: HTTP {reply.status}")

    def is_trusted(self, repo: str, login: str) -> bool:
        """Collaborator, owner of a user repo, or member of the owning org."""
        owner, name = repo.split("/", 1)
        if login.lower() == owner.lower():
            return True
        if self._yes_no(f"/repos/{_q(owner)}/{_q(name)}/collaborators/{_q(login)}"):
            return True
        return self._yes_no(f"/orgs/{_q(owner)}/members/{_q(login)}")

    def pull_head(self, repo: str, number: int) -> str:
        owner, name = repo.split("/", 1)
        data = self._json(f"/repos/{_q(owner)}/{_q(name)}/pulls/{number}")
        try:
            sha = data["head"]["sha"]
        except (TypeError, KeyError):
            raise ForgeError(f"pull {repo}#{number}: no head.sha in the reply") from None
        if not isinstance(sha, str) or not is_commit(sha):
            raise ForgeError(f"pull {repo}#{number}: head.sha is not a commit id")
        return sha

    def set_status(self, repo: str, sha: str, state: str, context: str, description: str, target_url: str) -> None:
        owner, name = repo.split("/", 1)
        path = f"/repos/{_q(owner)}/{_q(name)}/statuses/{sha}"
        reply = self._request("POST", path, {
            "state": state, "context": context, "description": description[:255], "target_url": target_url,
        })
        if reply.status not in (200, 201):
            raise ForgeError(f"POST {path}: HTTP {reply.status}")

    def comment(self, repo: str, number: int, text: str) -> None:
        owner, name = repo.split("/", 1)
        path = f"/repos/{_q(owner)}/{_q(name)}/issues/{number}/comments"
        reply = self._request("POST", path, {"body": text})
        if reply.status not in (200, 201):
            raise ForgeError(f"POST {path}: HTTP {reply.status}")

    # -- polling
    def open_pulls(self, repo: str) -> list[OpenPull]:
        owner, name = repo.split("/", 1)
        pulls: list[OpenPull] = []
        for page in range(1, 1000):
            data = self._json(f"/repos/{_q(owner)}/{_q(name)}/pulls?state=open&page={page}&limit={PAGE}")
            if not isinstance(data, list):
                raise ForgeError(f"open pulls of {repo}: the reply is not a list")
            for item in data:
                try:
                    number, sha = item["number"], item["head"]["sha"]
                except (TypeError, KeyError):
                    raise ForgeError(f"open pulls of {repo}: an entry has no number or head.sha") from None
                if type(number) is int and isinstance(sha, str) and is_commit(sha):
                    pulls.append(OpenPull(number, sha))
            # Only an empty page ends the list: Gitea caps `limit` at its
            # [api] MAX_RESPONSE_ITEMS (default 50, often set lower), so a page
            # shorter than asked for is not the last one.
            if not data:
                return pulls
        raise ForgeError(f"open pulls of {repo}: more pages than expected")

    def comments(self, repo: str, number: int) -> list[PolledComment]:
        """All comments of a PR: this endpoint is not paginated (it has only since/before)."""
        owner, name = repo.split("/", 1)
        data = self._json(f"/repos/{_q(owner)}/{_q(name)}/issues/{number}/comments")
        if not isinstance(data, list):
            raise ForgeError(f"comments of {repo}#{number}: the reply is not a list")
        found: list[PolledComment] = []
        for item in data:
            try:
                comment = PolledComment(
                    id=item["id"], body=item["body"], author=item["user"]["login"],
                    edited=item.get("updated_at") != item.get("created_at"),
                )
            except (TypeError, KeyError, AttributeError):
                raise ForgeError(f"comments of {repo}#{number}: an entry is not a comment") from None
            if type(comment.id) is not int or not isinstance(comment.body, str) or not isinstance(comment.author, str):
                raise ForgeError(f"comments of {repo}#{number}: an entry is not a comment")
            found.append(comment)
        return found


def polled_event(repo: str, pull: OpenPull, comment: PolledComment) -> CommentEvent:
    """A polled comment as the event a webhook would have delivered."""
    return CommentEvent(
        action="edited" if comment.edited else "created",
        comment_id=comment.id,
        body=comment.body,
        author=comment.author,
        repo=repo,
        number=pull.number,
        is_pull=True,
        is_open=True,
        head_sha=pull.head_sha,
    )
