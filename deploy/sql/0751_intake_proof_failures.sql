-- intake: failed customer proofs, for the 429 on guessing (services/intake/view.c).
SET LOCAL ROLE intake;
SET LOCAL search_path = intake, public;

-- Failed customer proofs (GET /v1/complaints/{no} with a wrong token or phone), per case
-- number ('case:<no>') and per client address ('ip:<addr>'), in a window: past the limit the
-- answer is 429 until the window passes. In PostgreSQL so the limit holds across instances.
CREATE TABLE proof_failures (
  key          text PRIMARY KEY,
  window_start timestamptz NOT NULL,
  failures     integer NOT NULL
);
