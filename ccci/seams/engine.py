"""The Docker Engine seam: what ccci reads from and removes in the swarm.

Everything here goes through the docker SDK (the Engine API), scoped to one
stack by the label swarm puts on what `docker stack deploy` creates
(`com.docker.stack.namespace`). Nothing here deploys: abra does that.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import attrs
import docker
import docker.errors
import requests.exceptions
from docker.models.services import Service

NAMESPACE = "com.docker.stack.namespace"
# The label abra looks for to find backupbot on a server (backup-bot-two sets it).
BACKUPBOT_LABEL = "coop-cloud.backupbot.enabled"
KINDS = ("services", "containers", "volumes", "secrets", "configs", "networks")


class EngineError(Exception):
    """The engine refused or failed an operation ccci needed."""


def connect() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except docker.errors.DockerException as error:
        raise EngineError(f"cannot reach the Docker engine: {error}") from None
    return client


def ready(client: docker.DockerClient) -> bool:
    """The engine answers and its swarm is active with a manager: ccci can work."""
    try:
        swarm = client.info().get("Swarm") or {}
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return False
    return swarm.get("LocalNodeState") == "active" and bool(swarm.get("ControlAvailable"))


def wait_ready(client: docker.DockerClient, timeout: float, poll: float = 1.0) -> bool:
    """Wait up to `timeout` for the engine (and its swarm) to be back; whether it is."""
    deadline = time.monotonic() + timeout
    while True:
        if ready(client):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def namespaces(client: docker.DockerClient) -> set[str]:
    """Every stack namespace that labels anything on the engine."""
    api = client.api
    labelled = [
        *(s.attrs["Spec"].get("Labels") or {} for s in client.services.list()),
        *(c.get("Labels") or {} for c in api.containers(all=True)),
        *(v.get("Labels") or {} for v in (api.volumes()["Volumes"] or [])),
        *(n.get("Labels") or {} for n in api.networks()),
        *(o["Spec"].get("Labels") or {} for o in [*api.secrets(), *api.configs()]),
    ]
    return {labels[NAMESPACE] for labels in labelled if labels.get(NAMESPACE)}


def secret_and_config_names(client: docker.DockerClient) -> set[str]:
    """abra's secrets carry no label, only their stack as a name prefix."""
    api = client.api
    return {o["Spec"]["Name"] for o in [*api.secrets(), *api.configs()]}


def backupbot_services(client: docker.DockerClient) -> list[str]:
    """The services on the swarm that say they are backupbot."""
    try:
        found = client.services.list(filters={"label": f"{BACKUPBOT_LABEL}=true"})
    except docker.errors.DockerException as error:
        raise EngineError(f"cannot list services: {error}") from None
    return sorted(service.name for service in found)


@attrs.frozen
class TaskView:
    """What convergence needs to know of one swarm task."""

    id: str
    service: str
    state: str
    desired: str
    error: str
    message: str
    created: str
    image: str
    container: str | None
    ports: tuple[int, ...]

    @classmethod
    def from_api(cls, service: str, task: dict[str, Any]) -> TaskView:
        status = task.get("Status", {})
        ports = status.get("PortStatus", {}).get("Ports") or []
        return cls(
            id=task["ID"],
            service=service,
            state=status.get("State", ""),
            desired=task.get("DesiredState", ""),
            error=status.get("Err", ""),
            message=status.get("Message", ""),
            created=task.get("CreatedAt", ""),
            image=task.get("Spec", {}).get("ContainerSpec", {}).get("Image", ""),
            container=status.get("ContainerStatus", {}).get("ContainerID"),
            ports=tuple(p["PublishedPort"] for p in ports if p.get("PublishedPort")),
        )


@attrs.define
class Stack:
    """One stack on the engine, by name."""

    client: docker.DockerClient
    name: str

    @property
    def _filters(self) -> dict[str, str]:
        return {"label": f"{NAMESPACE}={self.name}"}

    def services(self) -> list[Service]:
        return self.client.services.list(filters=self._filters)

    def version_label(self) -> str | None:
        """The version abra labels a deployed app's services with
        (`coop-cloud.<stack>.version`): what actually runs, unlike the env
        file's TYPE, which abra writes already at `app new`."""
        key = f"coop-cloud.{self.name}.version"
        for service in self.services():
            value = (service.attrs["Spec"].get("Labels") or {}).get(key)
            if value:
                return value
        return None

    def short_name(self, service: Service) -> str:
        prefix = f"{self.name}_"
        return service.name[len(prefix):] if service.name.startswith(prefix) else service.name

    def tasks(self, service: Service) -> list[TaskView]:
        try:
            raw = service.tasks()
        except docker.errors.NotFound:
            return []
        return [TaskView.from_api(self.short_name(service), task) for task in raw]

    def all_tasks(self) -> Iterator[TaskView]:
        for service in self.services():
            yield from self.tasks(service)

    def replicas(self) -> dict[str, tuple[int, int]]:
        """Per service (short name): tasks running now, and replicas wanted."""
        counts = {}
        for service in self.services():
            spec = service.attrs["Spec"]
            want = (spec.get("Mode", {}).get("Replicated") or {}).get("Replicas", 1)
            running = [
                t for t in service.tasks({"desired-state": "running"}) if t["Status"]["State"] == "running"
            ]
            counts[self.short_name(service)] = (len(running), want)
        return counts

    def remove_services(self) -> None:
        """Remove the stack's services directly (when abra could not undeploy)."""
        for service in self.services():
            _quietly(service.remove)

    def health(self, container_id: str | None) -> str | None:
        """'healthy', 'unhealthy', 'starting', or None without a healthcheck."""
        if not container_id:
            return None
        try:
            state = self.client.api.inspect_container(container_id)["State"]
        except docker.errors.NotFound:
            return "gone"
        return (state.get("Health") or {}).get("Status")

    def health_log(self, container_id: str | None) -> str:
        if not container_id:
            return ""
        try:
            health = self.client.api.inspect_container(container_id)["State"].get("Health") or {}
        except docker.errors.NotFound:
            return ""
        entries = health.get("Log") or []
        return entries[-1].get("Output", "").strip() if entries else ""

    def running_container(self, service: str) -> str:
        """The id of a running container of `service` (short name)."""
        for task in self.all_tasks():
            if task.service == service and task.state == "running" and task.container:
                return task.container
        raise EngineError(f"stack {self.name}: no running container of service {service!r}")

    def exec(self, service: str, command: list[str]) -> str:
        """Run argv in a running container of `service`; its output, or EngineError."""
        container = self.client.containers.get(self.running_container(service))
        code, output = container.exec_run(command, demux=False)
        text = (output or b"").decode(errors="replace")
        if code != 0:
            raise EngineError(f"{service}: {' '.join(command)} exited {code}: {text.strip()[:300]}")
        return text

    def published_port(self, service: str = "app") -> int:
        """The host port swarm published (mode: host) for a running task."""
        tasks = [t for t in self.all_tasks() if t.state == "running" and t.ports]
        preferred = [t for t in tasks if t.service == service] or tasks
        if not preferred:
            raise EngineError(f"stack {self.name}: no running task publishes a port")
        return preferred[0].ports[0]

    # -- what is left of a stack ----------------------------------------------

    def _owned(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Secrets and configs of this stack: by label, or by abra's name prefix.

        abra creates secrets itself (`<stack>_<name>_<version>`), outside the
        stack deploy, so they carry no namespace label.
        """
        prefix = f"{self.name}_"
        return [
            o
            for o in objects
            if (o["Spec"].get("Labels") or {}).get(NAMESPACE) == self.name
            or o["Spec"]["Name"].startswith(prefix)
        ]

    def leftovers(self) -> dict[str, list[str]]:
        """Names of everything on the engine that still carries this stack's label."""
        found: dict[str, list[str]] = {}
        api = self.client.api
        found["services"] = [s.name for s in self.services()]
        found["containers"] = [
            c["Names"][0].lstrip("/") for c in api.containers(all=True, filters=self._filters)
        ]
        found["volumes"] = [v["Name"] for v in (api.volumes(filters=self._filters)["Volumes"] or [])]
        found["secrets"] = [s["Spec"]["Name"] for s in self._owned(api.secrets())]
        found["configs"] = [c["Spec"]["Name"] for c in self._owned(api.configs())]
        found["networks"] = [n["Name"] for n in api.networks(filters=self._filters)]
        return {kind: names for kind, names in found.items() if names}

    def wait_gone(self, timeout: float) -> bool:
        """Wait until no service or container of the stack remains."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = self.leftovers()
            if not left.get("services") and not left.get("containers"):
                return True
            time.sleep(0.5)
        return False

    def remove_leftovers(self) -> bool:
        """Remove whatever abra left behind, in dependency order; never raises.

        False when the engine could not be asked (it is away): then nothing
        is known about what is left.
        """
        api = self.client.api
        try:
            self.remove_services()
            _quietly(self.wait_gone, 60)
            for container in api.containers(all=True, filters=self._filters):
                _quietly(api.remove_container, container["Id"], force=True, v=True)
            for volume in api.volumes(filters=self._filters)["Volumes"] or []:
                _quietly(api.remove_volume, volume["Name"], force=True)
            for secret in self._owned(api.secrets()):
                _quietly(api.remove_secret, secret["ID"])
            for config in self._owned(api.configs()):
                _quietly(api.remove_config, config["ID"])
            for network in api.networks(filters=self._filters):
                _quietly(api.remove_network, network["Id"])
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return False
        return True

    def clear(self, settle: float = 30) -> dict[str, list[str]]:
        """Remove everything of the stack, again until nothing is left or `settle`
        seconds passed (a network frees only once its last task is gone); what is
        still there. Raises EngineError when the engine cannot be asked."""
        deadline = time.monotonic() + settle
        while True:
            left = self.leftovers()
            if not left or time.monotonic() > deadline:
                return left
            if not self.remove_leftovers():
                raise EngineError(f"stack {self.name}: the engine could not be asked what is left")
            time.sleep(1)

    # -- evidence for a red run -------------------------------------------------

    def service_logs(self, service: Service, tail: int = 2000) -> str:
        try:
            raw = service.logs(stdout=True, stderr=True, timestamps=True, tail=tail)
            return b"".join(raw).decode(errors="replace") if not isinstance(raw, bytes) else raw.decode(errors="replace")
        except docker.errors.APIError as error:
            return f"<no logs: {error}>"

    def task_states(self) -> str:
        return json.dumps([attrs.asdict(task) for task in self.all_tasks()], indent=2)


def _quietly(action, *args, **kwargs) -> None:
    """One removal that may fail (already gone, still in use); an engine that went away still raises."""
    try:
        action(*args, **kwargs)
    except docker.errors.APIError:
        pass


# -- named volumes (what a snapshot reads and restores) ------------------------


@attrs.frozen
class VolumeInfo:
    """One named volume as the engine describes it."""

    name: str
    driver: str
    options: dict[str, str]
    mountpoint: str

    @property
    def plain_local(self) -> bool:
        """A local volume without driver options: its data folder is `<mountpoint>` itself."""
        return self.driver == "local" and not self.options and self.mountpoint.endswith("/_data")


def stack_volumes(client: docker.DockerClient, stack: str) -> list[str]:
    """The names of the volumes that carry `stack`'s label, sorted."""
    found = client.api.volumes(filters={"label": f"{NAMESPACE}={stack}"})["Volumes"] or []
    return sorted(v["Name"] for v in found)


def inspect_volume(client: docker.DockerClient, name: str) -> VolumeInfo | None:
    """The volume called `name`, or None when there is none."""
    try:
        info = client.api.inspect_volume(name)
    except docker.errors.NotFound:
        return None
    return VolumeInfo(name, info.get("Driver") or "", dict(info.get("Options") or {}), info["Mountpoint"])


# -- images (the reconciler's health window) ----------------------------------------------------

def image_healthcheck(client: docker.DockerClient, image: str) -> dict[str, Any]:
    """The healthcheck an image declares; {} when it has none or the engine does not know the image."""
    try:
        return client.images.get(image).attrs.get("Config", {}).get("Healthcheck") or {}
    except docker.errors.DockerException:
        return {}
