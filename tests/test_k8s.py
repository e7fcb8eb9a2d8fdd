"""deploy/k8s/: Kustomize renders it (the kustomize built into the kubectl pinned in requirements-dev.txt)
and every object passes its schema, offline: Kubernetes' own (shipped by kubernetes-validate) and
KEDA's ScaledObject CRD (kept in deploy/k8s/schemas/). Then the promises the manifests make are checked one by one."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.support.processes import ROOT, VENV_BIN

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"


def render(tmp_path: Path, target: str) -> list[dict]:
    """`kubectl kustomize` of a copy of deploy/k8s, its secrets.env made from the example."""
    copy_dir = tmp_path / "k8s"
    shutil.copytree(K8S, copy_dir)
    shutil.copy(copy_dir / "base" / "secrets.env.example", copy_dir / "base" / "secrets.env")
    result = subprocess.run(
        [str(VENV_BIN / "kubectl"), "kustomize", str(copy_dir / target)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


@pytest.fixture(scope="module", params=["base", "overlays/single-node"])
def rendered(request, tmp_path_factory) -> list[dict]:
    return render(tmp_path_factory.mktemp("kustomize"), request.param)


def the(objects: list[dict], kind: str, name: str) -> dict:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def keda_schema() -> dict:
    """The v1alpha1 openAPIV3Schema of KEDA's CRD, closed to unknown fields: the API server would
    silently prune a misspelt field (minReplicas for minReplicaCount), this check refuses it."""
    crd = yaml.safe_load((K8S / "schemas" / "keda.sh_scaledobjects.yaml").read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])

    def close(node: object) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node and node is not schema_metadata(schema):
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


def schema_metadata(schema: dict) -> dict:
    return schema["properties"]["metadata"]


def test_every_builtin_object_passes_the_kubernetes_schema(rendered):
    checked = 0
    for document in rendered:
        if document["apiVersion"].startswith("keda.sh/"):
            continue
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 12  # the base: setup Job, API (4), consumers (2), scheduler, relay, PVC, ConfigMap, Secret


def test_the_scaled_object_passes_kedas_crd(rendered):
    [scaled] = [document for document in rendered if document["kind"] == "ScaledObject"]
    jsonschema.validate(scaled, keda_schema())
    assert scaled["spec"]["scaleTargetRef"]["name"] == "pet-consumer"
    the(rendered, "Deployment", "pet-consumer")  # what it scales exists
    lists = {trigger["metadata"].get("listName") for trigger in scaled["spec"]["triggers"]}
    assert {"pets:tasks", "pets:tasks:high", "pets:tasks:low"} <= lists
    assert scaled["spec"]["minReplicaCount"] == 0  # the scheduler keeps retries moving meanwhile
    the(rendered, "Deployment", "pet-scheduler")


def test_a_misspelt_scaled_object_field_is_caught():
    broken = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x"},
              "spec": {"scaleTargetRef": {"name": "x"}, "minReplicas": 0, "triggers": []}}  # fmt: skip
    with pytest.raises(jsonschema.ValidationError, match="minReplicas"):
        jsonschema.validate(broken, keda_schema())


def test_the_api_is_stateless_replicated_probed_and_autoscaled(tmp_path):
    objects = render(tmp_path, "base")
    api = the(objects, "Deployment", "pet-api")
    assert api["spec"]["replicas"] >= 2
    [container] = api["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready/"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/"
    config = the(objects, "ConfigMap", next(o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"))
    assert config["data"]["API_RUN_SETUP"] == "false"  # the setup Job migrates, not every replica
    assert "localhost" in config["data"]["DJANGO_ALLOWED_HOSTS"].split(",")  # the probes' Host
    secret_keys = set(next(o for o in objects if o["kind"] == "Secret")["data"])
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL"} <= secret_keys
    hpa = the(objects, "HorizontalPodAutoscaler", "pet-api")
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu" and hpa["spec"]["minReplicas"] >= 2
    job = the(objects, "Job", "pet-app-setup")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][:3] == ["python", "manage.py", "setup"]
    assert {pdb["metadata"]["name"] for pdb in objects if pdb["kind"] == "PodDisruptionBudget"} == {
        "pet-api",
        "pet-consumer",
    }


def test_every_pod_runs_as_non_root_without_privileges_and_consumers_get_time_to_finish(rendered):
    pods = [o["spec"]["template"]["spec"] for o in rendered if o["kind"] in ("Deployment", "StatefulSet", "Job")]
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    consumer = the(rendered, "Deployment", "pet-consumer")["spec"]["template"]["spec"]
    # Longer than the worst task: Wikipedia's timeout (5 s) twice over, a rate-limit wait, the file.
    assert consumer["terminationGracePeriodSeconds"] >= 30


def test_the_relay_is_restarted_when_its_heartbeat_goes_stale(rendered):
    [relay] = the(rendered, "Deployment", "pet-outbox-relay")["spec"]["template"]["spec"]["containers"]
    heartbeat = {e["name"]: e["value"] for e in relay["env"]}["OUTBOX_RELAY_HEARTBEAT_FILE"]
    assert heartbeat.startswith("/tmp/")  # the pod's writable emptyDir; the root filesystem is read-only
    assert relay["livenessProbe"]["exec"]["command"] == ["python", "-m", "pets.heartbeat_file", heartbeat, "60"]


def test_the_single_node_overlay_runs_one_api_and_its_own_backing_services(tmp_path):
    objects = render(tmp_path, "overlays/single-node")
    assert the(objects, "Deployment", "pet-api")["spec"]["replicas"] == 1
    assert {"redis", "mongodb", "postgres"} <= {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
    assert the(objects, "PersistentVolumeClaim", "pet-processed-data")["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_a_misspelt_builtin_field_is_caught(tmp_path):
    api = copy.deepcopy(the(render(tmp_path, "base"), "Deployment", "pet-api"))
    api["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(api, KUBERNETES_VERSION, strict=True)
