-- The router's contract as a view (a model is routable only while active, verified and routing-enabled),
-- and the model initialization time measured by the verification (NULL when it was not measured).
ALTER TABLE model_registry_entries
    ADD COLUMN model_init_seconds double precision CHECK (model_init_seconds >= 0);

COMMENT ON COLUMN model_registry_entries.model_init_seconds IS
    'seconds from pod start to the model serving, as measured by the verification (NULL: not measured)';

CREATE VIEW routable_models AS
    SELECT environment, served_model_name, endpoint, api_path, endpoint || api_path AS url,
           model_path, image, helm_revision, replicas, max_model_len, p95_seconds, verified_at
      FROM model_registry_entries
     WHERE status = 'active' AND routing_enabled;

COMMENT ON VIEW routable_models IS 'exactly the models the API router may route to';
