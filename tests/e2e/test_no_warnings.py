"""A newcomer's commands print no warning that the project causes: the pulumi-kubernetes plugin tools/build made is
the version the Python SDK asks for, and the CLI finds it in PULUMI_HOME/plugins rather than on PATH. (The one
warning the program gives on purpose, that the recreate rollout means downtime, is tests/e2e/test_rollout.py's.)"""

from __future__ import annotations

import pytest

from tests.support.tools import require_plugin

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


def test_preview_and_up_print_no_warning(deployed_project):
    plugin = require_plugin("resource", "kubernetes")
    # The verified rollout: the recreate rollout (the development default) warns on purpose that updates mean downtime.
    project = deployed_project(release={"rollout": "verified"})
    installed = project.env["PULUMI_HOME"] + f"/plugins/{plugin.parent.name}/{plugin.name}"
    assert plugin.samefile(installed)  # tools/pulumi-plugins linked it into the project's PULUMI_HOME

    for result in (project.preview(), project.up()):
        assert result.ok, result.output
        assert "warning" not in result.output.lower(), result.output
