-- The learner's checkpoints: its whole state, so a restarted learner resumes where it was (DESIGN.md §4).
CREATE TABLE learner_checkpoints (
  model          text NOT NULL,
  id             bigserial PRIMARY KEY,
  created_at     timestamptz NOT NULL DEFAULT now(),
  train_steps    bigint NOT NULL,
  transitions_seen bigint NOT NULL,
  -- {"<topic>": {"<partition>": "<next offset to read>"}}
  source_offsets jsonb NOT NULL,
  counters       jsonb NOT NULL DEFAULT '{}',
  checksum       text NOT NULL,
  -- Networks, target networks, optimiser state and item embeddings, in the model library's format.
  state          bytea NOT NULL
);
CREATE INDEX learner_checkpoints_latest ON learner_checkpoints(model, id DESC);
