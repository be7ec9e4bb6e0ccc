# shellcheck shell=bash
# Source this file (". tools/env.sh") to use the project's locally built toolchain:
# .tools/bin first on PATH, the project virtualenv active, and Pulumi pointed at a
# local file backend with plugin downloads and update checks disabled.
# Build the tools first with tools/build.

if [ -n "${BASH_SOURCE:-}" ]; then
  _vd_env_src="${BASH_SOURCE[0]}"
elif [ -n "${ZSH_VERSION:-}" ]; then
  # shellcheck disable=SC2296
  _vd_env_src="${(%):-%x}"
else
  _vd_env_src="$0"
fi
VLLM_DEPLOY_ROOT="$(cd "$(dirname "$_vd_env_src")/.." && pwd)"
unset _vd_env_src
export VLLM_DEPLOY_ROOT

# Virtualenv (what `activate` does, without its prompt changes).
if [ -x "$VLLM_DEPLOY_ROOT/.venv/bin/python" ]; then
  export VIRTUAL_ENV="$VLLM_DEPLOY_ROOT/.venv"
  # The dynamic-provider launcher (pulumi-resource-pulumi-python) reads this.
  export PULUMI_RUNTIME_VIRTUALENV="$VIRTUAL_ENV"
  unset PYTHONHOME
fi

# PATH: tools first, then the virtualenv; drop earlier copies of both.
_vd_path=":${PATH}:"
_vd_path="${_vd_path//:$VLLM_DEPLOY_ROOT\/.tools\/bin:/:}"
_vd_path="${_vd_path//:$VLLM_DEPLOY_ROOT\/.venv\/bin:/:}"
_vd_path="${_vd_path#:}"; _vd_path="${_vd_path%:}"
PATH="$VLLM_DEPLOY_ROOT/.tools/bin:$VLLM_DEPLOY_ROOT/.venv/bin${_vd_path:+:$_vd_path}"
export PATH
unset _vd_path

# Pulumi: local engine and plugins only, local state.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_HOME="$VLLM_DEPLOY_ROOT/.state/pulumi-home"
export PULUMI_BACKEND_URL="file://$VLLM_DEPLOY_ROOT/.state/pulumi-backend"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-local-dev-passphrase}"
mkdir -p "$PULUMI_HOME" "$VLLM_DEPLOY_ROOT/.state/pulumi-backend"
# The pulumi-kubernetes provider built by tools/build, where the CLI looks for plugins (not on PATH).
"$VLLM_DEPLOY_ROOT/tools/pulumi-plugins" "$PULUMI_HOME" || echo "tools/env.sh: could not install Pulumi plugins" >&2

# Which local cluster: the worktree's (.state), or the one under VLLM_DEPLOY_STATE (a test worker's own cluster,
# tools/localcluster/layout.py STATE_ENV).
cluster_state="${VLLM_DEPLOY_STATE:-$VLLM_DEPLOY_ROOT/.state}"

# Local cluster (tools/cluster up) kubeconfig, if it exists and none is set.
if [ -z "${KUBECONFIG:-}" ] && [ -f "$cluster_state/cluster/kubeconfig" ]; then
  export KUBECONFIG="$cluster_state/cluster/kubeconfig"
fi

# The local cluster's PostgreSQL (model registry), if it runs: libpq's variables, the password stays in PGPASSFILE.
# `pulumi up --stack local` and `python -m components.registry list` connect with these.
if [ -f "$cluster_state/postgres/info.json" ] && [ -z "${PGHOST:-}" ] && [ -z "${DATABASE_URL:-}" ]; then
  eval "$(python3 "$VLLM_DEPLOY_ROOT/tools/localcluster/postgres.py" env --state "$cluster_state/postgres")"
  export PGHOST PGPORT PGDATABASE PGUSER PGPASSFILE
fi
unset cluster_state
