"""The GitHub workflows: valid, pinned, least privilege, and clean under zizmor."""
import re
import subprocess

import pytest
import yaml

from booktools.book import ROOT, branches, repository
from booktools.layout import tool
from booktools.requirements import newest, python_version

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def load(path):
    return yaml.load(path.read_text(), Loader=yaml.BaseLoader)   # keep "on" a string key


def test_there_are_workflows_to_publish_release_test_on_cpu_and_gpu_and_watch_upstream():
    assert {p.stem for p in WORKFLOWS} >= {"publish", "release", "test", "gpu", "canary"}


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
    makefile = (ROOT / "Makefile").read_text()   # `make pdf` puts the PDFs the pages link into the site
    assert "cp _build/latex/book.pdf _build/html/book.pdf" in makefile


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


def test_releases_are_made_from_version_tags_after_the_whole_suite_passed():
    workflow = load(ROOT / ".github" / "workflows" / "release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    build = workflow["jobs"]["build"]
    assert build["permissions"] == {"contents": "read"}
    steps = {s.get("name", ""): s for s in build["steps"]}
    test = next(s for name, s in steps.items() if name.startswith("make test"))
    assert test["run"] == "make test" and test["env"]["SITE_VERSION"] == "${{ github.ref_name }}"
    names = list(steps)
    assert names.index("make release") > names.index(next(n for n in names if n.startswith("make test")))
    publish = workflow["jobs"]["publish"]
    assert publish["needs"] == "build" and publish["permissions"] == {"contents": "write"}
    assert 'gh release create "$TAG" release/*' in publish["steps"][-1]["run"]


def test_canary_runs_every_lecture_weekly_on_the_newest_releases_everywhere_readers_are():
    workflow = load(ROOT / ".github" / "workflows" / "canary.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    job = workflow["jobs"]["lectures"]
    matrix = job["strategy"]["matrix"]
    assert job["strategy"]["fail-fast"] == "false"
    assert sorted(matrix["os"]) == ["macos-latest", "ubuntu-latest", "windows-latest"]
    minors = [int(v.split(".")[1]) for v in matrix["python"]]
    pinned = int(python_version().split(".")[1])
    # From the version the pins are for, each newer one, through Colab's 3.12 and beyond.
    assert minors == list(range(pinned, pinned + len(minors))) and minors[-1] >= 13
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    assert "pip install --upgrade $(python -m booktools.requirements --newest)" in runs
    assert "==" not in runs                       # nothing pinned
    assert "python -m pytest lectures" in runs
    assert {"numpy", "numba", "jax", "matplotlib"} <= set(newest())
    report = workflow["jobs"]["report"]
    assert report["if"] == "failure()" and report["permissions"] == {"issues": "write"}
    assert "gh issue create" in report["steps"][0]["run"]
