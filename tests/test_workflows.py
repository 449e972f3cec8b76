"""The GitHub workflows: valid, pinned, least privilege, and clean under zizmor."""
import re
import subprocess

import pytest
import yaml

from booktools.book import ROOT, branches, repository
from booktools.layout import tool

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(path):
    return yaml.load(path.read_text(), Loader=yaml.BaseLoader)   # keep "on" a string key


def test_there_are_workflows_to_publish_and_to_test_on_cpu_and_gpu():
    assert {p.stem for p in WORKFLOWS} >= {"publish", "test", "gpu"}


def test_workflows_match_the_github_workflow_schema():
    result = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                             *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_even_when_pedantic():
    result = subprocess.run([tool("zizmor"), "--offline", "--persona=pedantic", "--no-progress",
                             str(ROOT / ".github" / "workflows")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit(path):
    uses = re.findall(r"uses:\s*(\S+)", path.read_text())
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{path.name}: {ref} is not pinned to a SHA"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_timeouts_and_concurrency(path):
    workflow = load(path)
    assert workflow["permissions"] == {}, f"{path.name}: default permissions must be none"
    assert "concurrency" in workflow
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} must state its permissions"
        assert int(job["timeout-minutes"]) <= 90, f"{path.name}: job {name} needs a timeout"


def test_publishing_runs_only_from_main_and_by_hand():
    triggers = load(ROOT / ".github" / "workflows" / "publish.yml")["on"]
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"]


def test_gpu_job_never_runs_for_pull_requests_and_requires_the_gpu():
    workflow = load(ROOT / ".github" / "workflows" / "gpu.yml")
    assert set(workflow["on"]) == {"push", "schedule", "workflow_dispatch"}
    job = workflow["jobs"]["test-gpu"]
    assert "vars.GPU_RUNNER_LABEL" in job["runs-on"] and "'gpu'" in job["runs-on"]
    runs = [step.get("run", "") for step in job["steps"]]
    assert "nvidia-smi" in runs and "make test-gpu" in runs
    makefile = (ROOT / "Makefile").read_text()
    assert "REQUIRE_GPU=1 $(BIN)/python -m pytest" in makefile
    assert "-r requirements-gpu.txt" in makefile


def test_publishing_pushes_the_branches_both_editions_launch_from():
    publish = (ROOT / ".github" / "workflows" / "publish.yml").read_text()
    assert f"for branch in {branches()['full']} {branches()['student']}; do" in publish
    assert "make html pdf student" in publish and "cp -r _build/student/html _build/html/student" in publish


def publish_step(job, name_start):
    steps = load(ROOT / ".github" / "workflows" / "publish.yml")["jobs"][job]["steps"]
    return next(s for s in steps if s.get("name", "").startswith(name_start))


@pytest.mark.parametrize("pushed_to, ok", [("{org}/{repo}", True), ("a-fork/lectures", False)])
def test_publishing_stops_unless_the_config_names_the_repository_it_pushes_to(tmp_path, pushed_to, ok):
    org, repo = repository()
    guard = publish_step("build", "Check that _config.yml names this repository")
    assert guard["env"]["REPOSITORY"] == "${{ github.repository }}"
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    result = subprocess.run(["bash", "-c", guard["run"]], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "REPOSITORY": pushed_to.format(org=org, repo=repo)})
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    if not ok:
        assert f"names {org}/{repo}" in result.stdout and "a-fork/lectures" in result.stdout
    # ... and the notebooks are pushed to that same repository.
    push = publish_step("publish-notebooks", "Push the notebooks")
    assert push["env"]["REPOSITORY"] == "${{ github.repository }}"
    assert 'github.com/${REPOSITORY}.git' in push["run"]
