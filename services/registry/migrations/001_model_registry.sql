-- The model registry (DESIGN.md §4): models, their versions with lineage, and what each serving node runs.
CREATE TABLE models (
  name        text PRIMARY KEY,
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- A pinned version is served everywhere regardless of newer ones; NULL = serve the live version.
  pinned_version bigint
);

CREATE TABLE model_versions (
  model            text NOT NULL REFERENCES models(name),
  version          bigint NOT NULL,
  parent_version   bigint,
  created_at       timestamptz NOT NULL DEFAULT now(),
  train_steps      bigint NOT NULL,
  transitions_seen bigint NOT NULL,
  -- {"<topic>": {"<partition>": "<offset>"}}: which transitions trained it.
  source_offsets   jsonb NOT NULL DEFAULT '{}',
  metrics          jsonb NOT NULL DEFAULT '{}',
  checksum         text NOT NULL,
  size_bytes       bigint NOT NULL,
  weights          bytea NOT NULL,
  status           text NOT NULL CHECK (status IN ('candidate', 'live', 'retired', 'rejected')),
  PRIMARY KEY (model, version),
  FOREIGN KEY (model, parent_version) REFERENCES model_versions(model, version)
);
-- At most one live version per model.
CREATE UNIQUE INDEX model_versions_one_live ON model_versions(model) WHERE status = 'live';

ALTER TABLE models ADD FOREIGN KEY (name, pinned_version) REFERENCES model_versions(model, version);

CREATE TABLE deployments (
  serving_node text NOT NULL,
  model        text NOT NULL,
  version      bigint NOT NULL,
  loaded_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (serving_node, model, loaded_at),
  FOREIGN KEY (model, version) REFERENCES model_versions(model, version)
);
CREATE INDEX deployments_latest ON deployments(serving_node, model, loaded_at DESC);
