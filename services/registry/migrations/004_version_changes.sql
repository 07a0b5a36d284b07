-- Operator and learner decisions (DESIGN.md §4): every change of a model's live or pinned version, who made
-- it, when and why; and the release gate's decision on each version (promoted or rejected, why, the
-- estimates and the data they rest on).
CREATE TABLE model_version_changes (
  id           bigserial PRIMARY KEY,
  model        text NOT NULL REFERENCES models(name),
  at           timestamptz NOT NULL DEFAULT now(),
  -- 'learner' or 'cli:<user name>'.
  actor        text NOT NULL,
  action       text NOT NULL CHECK (action IN ('publish', 'promote', 'rollback', 'pin', 'unpin', 'divergence')),
  from_version bigint,
  to_version   bigint,
  reason       text NOT NULL
);
CREATE INDEX model_version_changes_latest ON model_version_changes(model, id DESC);

ALTER TABLE model_versions ADD COLUMN decision jsonb;
