-- The model registry: one row per (environment, served model name), written by `pulumi up` after the
-- post-deploy verification passed. The API router reads it; operators read its history columns.
CREATE TABLE model_registry_entries (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- identity
    environment       text        NOT NULL CHECK (environment <> ''),
    served_model_name text        NOT NULL CHECK (served_model_name <> ''),
    model_path        text        NOT NULL,
    stack             text        NOT NULL,
    namespace         text        NOT NULL,
    release_name      text        NOT NULL,
    -- where to reach it: the Service DNS name, never pod IPs
    endpoint          text        NOT NULL CHECK (endpoint LIKE 'http://%' OR endpoint LIKE 'https://%'),
    api_path          text        NOT NULL CHECK (api_path LIKE '/%'),
    -- versions
    image             text        NOT NULL,
    chart_version     text        NOT NULL,
    helm_revision     integer     NOT NULL CHECK (helm_revision >= 1),
    -- resources
    gpus_per_pod      integer     NOT NULL CHECK (gpus_per_pod >= 1),
    replicas          integer     NOT NULL CHECK (replicas >= 1),
    max_model_len     integer     CHECK (max_model_len >= 1),
    -- evidence from the verification
    verified_at       timestamptz NOT NULL,
    p50_seconds       double precision CHECK (p50_seconds >= 0),
    p95_seconds       double precision NOT NULL CHECK (p95_seconds >= 0),
    -- lifecycle
    status            text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    routing_enabled   boolean     NOT NULL DEFAULT false,
    retired_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    updated_by        text        NOT NULL,
    CONSTRAINT model_registry_entries_environment_served_model_name_key UNIQUE (environment, served_model_name)
);

COMMENT ON TABLE model_registry_entries IS
    'vLLM models deployed and verified by vllm-deploy; the API router routes to the routable_models view';
COMMENT ON COLUMN model_registry_entries.endpoint IS
    'http://{release}.{namespace}.svc.cluster.local:{port}: the Service DNS name';
COMMENT ON COLUMN model_registry_entries.api_path IS
    'the OpenAI-compatible path the verification proved (POST), appended to endpoint';
COMMENT ON COLUMN model_registry_entries.updated_by IS 'user@project/stack of the last pulumi run that wrote the row';
