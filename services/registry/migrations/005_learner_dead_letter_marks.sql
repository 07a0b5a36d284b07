-- How far each partition of `transitions` has been dead-lettered by a model's learner: the offset after the
-- last record whose letter Kafka took. After a crash the learner reads again from its checkpoint's offsets, and
-- a record below the mark already has its letter, so it is not written a second time.
CREATE TABLE learner_dead_letter_marks (
  model       text NOT NULL,
  partition   integer NOT NULL,
  next_offset bigint NOT NULL,
  PRIMARY KEY (model, partition)
);
