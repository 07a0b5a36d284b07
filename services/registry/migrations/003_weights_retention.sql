-- Registry retention (DESIGN.md §4, README "The model registry"): old versions keep their metadata and lose
-- their weights. A pruned row has weights NULL and records when it was pruned; nothing else changes.
ALTER TABLE model_versions ALTER COLUMN weights DROP NOT NULL;
ALTER TABLE model_versions ADD COLUMN weights_pruned_at timestamptz;
ALTER TABLE model_versions ADD CONSTRAINT model_versions_weights_or_pruned
  CHECK ((weights IS NULL) = (weights_pruned_at IS NOT NULL));
