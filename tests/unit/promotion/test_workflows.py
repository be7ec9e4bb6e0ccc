"""The deploy and drift workflows: actionlint-clean, and their gates as parse tests.

development deploys on push to main; staging only by dispatch and only for a commit whose development deployment
succeeded (commit status checked by promotion.gate); production only after staging in the same run and behind
`environment: production`. Every `up` uses the policy pack with its environment's config, a concurrency group
per stack, and publishes the stack outputs. No workflow echoes a secret.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from promotion.stacks import PROMOTION_ORDER, policy_config, status_context
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY = WORKFLOWS / "deploy.yml"
DRIFT = WORKFLOWS / "drift.yml"
ALL_WORKFLOWS = sorted(WORKFLOWS.glob("*.yml"))


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def pulumi_steps(job: dict) -> list[dict]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]


def up_jobs(workflow: dict) -> dict[str, dict]:
    """Jobs that run `pulumi up`, keyed by job id."""
    return {name: job for name, job in workflow["jobs"].items()
            if any((s.get("with") or {}).get("command") == "up" for s in pulumi_steps(job))}


def needs(job: dict) -> list[str]:
    value = job.get("needs") or []
    return [value] if isinstance(value, str) else list(value)


def gated_stacks(job: dict) -> set[str]:
    """Stacks whose recorded success a gate job checks (`python3 -m promotion.gate ... --stack X`)."""
    stacks = set()
    for step in job.get("steps", []):
        for match in re.finditer(r"python3? -m promotion\.gate\b[^\n]*(?:\\\n[^\n]*)*", step.get("run", "")):
            found = re.search(r"--stack (\S+)", match.group(0))
            if found:
                stacks.add(found.group(1))
    return stacks


def upstream_stacks(workflow: dict, job_id: str) -> set[str]:
    """Stacks that must have succeeded before ``job_id`` runs: needed up jobs and stacks checked by needed gates."""
    jobs, ups = workflow["jobs"], up_jobs(workflow)
    found: set[str] = set()
    pending = list(needs(jobs[job_id]))
    while pending:
        name = pending.pop()
        if name in ups:
            found.add(stack_of(ups[name]))
        found |= gated_stacks(jobs[name])
        pending += needs(jobs[name])
    return found


def stack_of(job: dict) -> str:
    [step] = [s for s in pulumi_steps(job) if s["with"].get("command") == "up"]
    return step["with"]["stack-name"]


# --- actionlint ---------------------------------------------------------------------------------------------------

@pytest.mark.tools
@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(path):
    actionlint = require_tool("actionlint")
    result = subprocess.run([str(actionlint), "-no-color", str(path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.tools
@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.name)
def test_pulumi_action_inputs_are_known_to_actionlint(path, tmp_path):
    """actionlint knows pulumi/actions' inputs up to v6; v7 (Node 24) kept them: lint a v6 copy for input names."""
    actionlint = require_tool("actionlint")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    copy = tmp_path / ".github" / "workflows" / path.name
    copy.write_text(path.read_text().replace("pulumi/actions@v7", "pulumi/actions@v6"))
    result = subprocess.run([str(actionlint), "-no-color", str(copy)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# --- the promotion gates ------------------------------------------------------------------------------------------

def test_one_up_job_per_stack_named_after_it():
    ups = up_jobs(load(DEPLOY))
    assert sorted(ups) == sorted(PROMOTION_ORDER)
    for name, job in ups.items():
        assert stack_of(job) == name and job["env"]["STACK"] == name


def test_development_deploys_on_push_to_main_only():
    workflow = load(DEPLOY)
    assert workflow["on"]["push"] == {"branches": ["main"]}
    job = workflow["jobs"]["development"]
    assert job["if"] == "github.event_name == 'push'"
    assert upstream_stacks(workflow, "development") == set()


def test_staging_and_production_run_only_by_dispatch_from_main():
    workflow = load(DEPLOY)
    assert "workflow_dispatch" in workflow["on"]
    gate = workflow["jobs"]["development-verified"]
    assert gate["if"] == "github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main'"
    for stack in ("staging", "production"):
        assert "development-verified" in needs(workflow["jobs"][stack])  # skipped with the gate on push


def test_jobs_run_in_order_development_staging_production():
    workflow = load(DEPLOY)
    for index, stack in enumerate(PROMOTION_ORDER):
        assert upstream_stacks(workflow, stack) == set(PROMOTION_ORDER[:index]), stack


def test_staging_gate_checks_the_development_status_of_the_commit_it_deploys():
    workflow = load(DEPLOY)
    gate = workflow["jobs"]["development-verified"]
    script = gate["steps"][-1]["run"]
    assert gated_stacks(gate) == {"development"}
    assert 'gh api "repos/$GITHUB_REPOSITORY/commits/$commit/statuses?per_page=100"' in script
    assert "git merge-base --is-ancestor \"$commit\" origin/main" in script
    assert gate["outputs"]["commit"] == "${{ steps.gate.outputs.commit }}"
    assert gate["steps"][0]["with"]["fetch-depth"] == 0
    for stack in ("staging", "production"):  # both deploy exactly the commit the gate checked
        job = workflow["jobs"][stack]
        assert job["env"]["COMMIT"] == "${{ needs.development-verified.outputs.commit }}"
        assert job["steps"][0]["with"]["ref"] == "${{ env.COMMIT }}"


def test_each_up_job_records_its_result_as_the_status_the_next_gate_reads():
    for name, job in up_jobs(load(DEPLOY)).items():
        assert job["permissions"]["statuses"] == "write"
        runs = {s.get("if"): s.get("run", "") for s in job["steps"] if "gh api" in s.get("run", "")}
        assert set(runs) == {"success()", "failure()"}
        for script in runs.values():
            assert 'context="vllm-deploy/$STACK"' in script
        assert status_context(name) == f"vllm-deploy/{name}"


def test_production_is_bound_to_the_production_environment():
    jobs = load(DEPLOY)["jobs"]
    environment = jobs["production"]["environment"]
    assert (environment if isinstance(environment, str) else environment["name"]) == "production"
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["development"]["environment"] == "development"


def test_each_up_job_has_its_own_concurrency_group_that_never_cancels_an_up():
    groups = []
    for name, job in up_jobs(load(DEPLOY)).items():
        concurrency = job["concurrency"]
        assert name in concurrency["group"] and concurrency["cancel-in-progress"] is False
        groups.append(concurrency["group"])
    assert len(set(groups)) == len(PROMOTION_ORDER)
    assert "concurrency" not in load(DEPLOY)  # a workflow-level group would serialise unrelated stacks


def test_every_up_uses_the_policy_pack_with_its_environments_config():
    for name, job in up_jobs(load(DEPLOY)).items():
        [step] = pulumi_steps(job)
        inputs = step["with"]
        assert step["uses"] == "pulumi/actions@v7"
        assert inputs["command"] == "up" and inputs["stack-name"] == name
        assert inputs["policyPacks"] == "policies"
        assert inputs["policyPackConfigs"] == policy_config(name)
        assert (ROOT / policy_config(name)).is_file()
        assert "upsert" not in inputs  # a missing stack is an error, never silently created


def test_every_up_job_publishes_its_outputs_to_the_job_summary():
    for _name, job in up_jobs(load(DEPLOY)).items():
        [publish] = [s for s in job["steps"] if "promotion.summary" in s.get("run", "")
                     and "GITHUB_STEP_SUMMARY" in s.get("run", "")]
        assert publish["if"] == "always() && steps.up.outcome != 'skipped'"
        assert 'pulumi stack output --stack "$STACK" --json' in publish["run"]


def test_the_three_up_jobs_differ_only_in_their_stack():
    """One definition of a deploy: the jobs are copies with the stack name (and its ordering fields) swapped."""
    jobs = up_jobs(load(DEPLOY))

    def normalised(name: str) -> str:
        job = {k: v for k, v in jobs[name].items() if k not in ("name", "if", "needs", "timeout-minutes", "env")}
        job["env"] = {k: v for k, v in jobs[name]["env"].items() if k != "COMMIT"}
        return yaml.safe_dump(job).replace(name, "STACK")

    assert normalised("development") == normalised("staging") == normalised("production")


def test_drift_workflow_previews_every_stack_on_a_schedule_and_never_deploys():
    workflow = load(DRIFT)
    assert workflow["on"]["schedule"] and "workflow_dispatch" in workflow["on"]
    job = workflow["jobs"]["drift"]
    assert job["strategy"]["matrix"]["stack"] == list(PROMOTION_ORDER)
    assert job["strategy"]["fail-fast"] is False
    assert job["concurrency"]["group"] == "drift-${{ matrix.stack }}"
    [check] = [s for s in job["steps"] if "promotion.drift" in s.get("run", "")]
    assert check["run"] == 'python3 -m promotion.drift --stack "$STACK"'
    assert check["env"]["STACK"] == "${{ matrix.stack }}"
    assert all("command" not in (s.get("with") or {}) for s in pulumi_steps(job))  # install only
    assert workflow["permissions"] == {"contents": "read"}


# --- secrets ------------------------------------------------------------------------------------------------------

_PRINTS = re.compile(r"^\s*(echo|printf|cat|tee|env|printenv|set\s+-x)\b|\bset\s+-[a-z]*x")


def secret_leaks(workflow: dict) -> list[str]:
    """Places where a workflow could print a secret: the rules every workflow must pass."""
    problems = []
    secret_vars = {k for k, v in (workflow.get("env") or {}).items() if "secrets." in str(v)}
    for job_id, job in workflow["jobs"].items():
        job_vars = secret_vars | {k for k, v in (job.get("env") or {}).items() if "secrets." in str(v)}
        for index, step in enumerate(job.get("steps", [])):
            where = f"{job_id} step {index} ({step.get('name') or step.get('uses')})"
            names = job_vars | {k for k, v in (step.get("env") or {}).items()
                                if "secrets." in str(v) or "github.token" in str(v)}
            script = step.get("run", "")
            if "${{" in script and "secrets." in script:
                problems.append(f"{where}: a secret expression inside a run script (pass it through env)")
            if "--show-secrets" in script:
                problems.append(f"{where}: --show-secrets")
            for line in script.splitlines():
                if re.search(r"\bset\s+-[a-z]*x", line) or "ACTIONS_STEP_DEBUG" in line:
                    problems.append(f"{where}: shell tracing prints secrets: {line.strip()}")
                mentioned = [n for n in names if re.search(rf"\${{?{n}\b", line)]
                if mentioned and _PRINTS.search(line) and not re.search(r">\s*\"?\$?[\w/{}.\"-]+", line):
                    problems.append(f"{where}: prints {', '.join(mentioned)}: {line.strip()}")
            for key, value in (step.get("with") or {}).items():
                if "secrets." in str(value) and key not in ("cloud-url", "github-token"):
                    problems.append(f"{where}: secret passed as input {key}")
    return problems


@pytest.mark.parametrize("path", ALL_WORKFLOWS, ids=lambda p: p.name)
def test_no_secret_is_echoed(path):
    assert secret_leaks(load(path)) == []


def test_the_secret_rules_catch_leaks():
    leaky = {"env": {"PASS": "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"}, "jobs": {"j": {
        "env": {"KUBE": "${{ secrets.KUBECONFIG }}"},
        "steps": [{"run": 'echo "$PASS"'},
                  {"run": "printf '%s' \"${KUBE}\" | base64"},
                  {"run": "set -x\nmake deploy"},
                  {"run": "echo ${{ secrets.TOKEN }} > /dev/null"},
                  {"run": "pulumi stack output --show-secrets"},
                  {"run": "printf '%s\\n' \"$KUBE\" > \"$HOME/.kube/config\""},  # to a file: allowed
                  {"uses": "x/y@v1", "with": {"password": "${{ secrets.P }}"}}]}}}
    problems = secret_leaks(leaky)
    assert len(problems) == 6, problems
    assert any("prints PASS" in p for p in problems) and any("prints KUBE" in p for p in problems)
    assert not any("step 5" in p for p in problems)


def test_workflows_document_their_secrets():
    for path in (DEPLOY, DRIFT):
        header = path.read_text().split("\nname:")[0]
        assert "Secrets" in header, path.name
    text = DEPLOY.read_text()
    for name in ("PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG"):
        assert f"secrets.{name}" in text and name in text.split("\nname:")[0]
