"""``execution-environment.yml`` gives a build context with the collection and its dependencies.

No container registry is reachable here, so nothing is built or pushed: the
test builds the collection tarball, runs ``ansible-builder create`` (which
writes the Containerfile and the _build context without pulling anything) in
a temporary directory and checks what the image would get.
"""

import pathlib
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def _tool(name):
    local = BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    # requirements.txt installs it (make setup): missing is a failure, not a skip
    assert found, "%s is not installed (pip install -r requirements.txt)" % name
    return found


def _requirement_names(path):
    out = []
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip().lower())
    return out


@pytest.fixture(scope="module")
def ee():
    return yaml.safe_load((ROOT / "execution-environment.yml").read_text())


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    work = tmp_path_factory.mktemp("ee")
    for name in ("execution-environment.yml", "requirements-ee.txt", "bindep-ee.txt"):
        shutil.copy(ROOT / name, work / name)
    subprocess.run([_tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", str(work / "build"),
                    str(ROOT)], check=True, capture_output=True, text=True, cwd=str(ROOT), timeout=300)
    proc = subprocess.run([_tool("ansible-builder"), "create", "-f", str(work / "execution-environment.yml"),
                           "--context", str(work / "context")], capture_output=True, text=True, cwd=str(work),
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work / "context"


def test_schema_is_version_3(ee):
    assert ee["version"] == 3
    assert ee["images"]["base_image"]["name"]
    assert "ansible-core" in ee["dependencies"]["ansible_core"]["package_pip"]
    assert "ansible-runner" in ee["dependencies"]["ansible_runner"]["package_pip"]


def test_collection_tarball_matches_galaxy_yml(ee):
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    want = "smbvdc-datacenter-%s.tar.gz" % galaxy["version"]
    names = [c["name"] for c in ee["dependencies"]["galaxy"]["collections"]]
    assert "collections/%s" % want in names, "execution-environment.yml installs %s, galaxy.yml builds %s" % (names, want)
    assert [f["src"] for f in ee["additional_build_files"]] == ["build/%s" % want]


def test_python_requirements_are_runtime_only():
    names = _requirement_names(ROOT / "requirements-ee.txt")
    assert {"netaddr", "dnspython"} <= set(names)
    assert not {"pytest", "molecule", "ansible-lint", "yamllint", "hypothesis", "ansible-builder"} & set(names)
    # every EE requirement is also a (pinned) requirement of the repository
    assert set(names) <= set(_requirement_names(ROOT / "requirements.txt"))


def test_context_holds_the_collection(context):
    containerfile = next(p for p in (context / "Containerfile", context / "Dockerfile") if p.exists())
    text = containerfile.read_text()
    assert "ansible-galaxy collection install" in text and "-r requirements.yml" in text
    assert 'ansible-core>=2.19,<2.20' in text
    req = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    [entry] = [c for c in req["collections"] if c["name"].endswith(".tar.gz")]
    tarball = context / "_build" / entry["name"]
    assert entry["type"] == "file" and tarball.exists()
    with tarfile.open(tarball) as tar:
        members = tar.getnames()
        manifest = yaml.safe_load(tar.extractfile("MANIFEST.json"))["collection_info"]
    assert manifest["namespace"] == "smbvdc" and manifest["name"] == "datacenter"
    assert set(manifest["dependencies"]) >= {"community.libvirt", "community.general", "ansible.posix"}
    assert "plugins/filter/branch_set.py" in members and "playbooks/branches.yml" in members
    assert not any(m.startswith((".venv", "collections/", "tests/output")) for m in members)
    # generated secrets (the lab's SSH key, TSIG secrets) stay out of the image
    assert not any("/.smbvdc/" in m or m.endswith("/.smbvdc") for m in members), [m for m in members if ".smbvdc" in m]


def test_context_holds_python_and_system_requirements(context):
    assert _requirement_names(context / "_build" / "requirements.txt") == _requirement_names(ROOT / "requirements-ee.txt")
    bindep = (context / "_build" / "bindep.txt").read_text()
    assert "openssh-clients [platform:rpm]" in bindep
    # the build machine's packages (bindep.txt) stay out of the EE
    assert "qemu-system-x86" not in bindep and "docker.io" not in bindep
    text = next(p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()).read_text()
    assert "--user-pip=requirements.txt" in text and "--user-bindep=bindep.txt" in text
    assert "install-from-bindep" in text
