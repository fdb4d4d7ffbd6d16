-- classification: staff sign-in with a password (services/classification/signin.c). The
-- credentials sit next to the staff registry: one service knows who the staff are. Sessions
-- are rows here, and every other service learns of a revoked one through
-- GET /v1/auth/revocations (common/session.h), never by reading this schema.
SET LOCAL ROLE classification;
SET LOCAL search_path = classification, public;

-- One password per staff member, set by an admin (PUT /v1/staff-credentials/{id}) and changed
-- by its owner (PUT /v1/auth/password). password_hash: libsodium crypto_pwhash_str (Argon2id,
-- salt and cost inside the string). role: what a session of this person may do, the same
-- names as the bearer tokens' roles (integration is for machines, never a person's session).
CREATE TABLE staff_credentials (
  staff_id      text PRIMARY KEY CHECK (length(staff_id) BETWEEN 1 AND 60),
  role          text NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
  password_hash text NOT NULL,
  set_by        text NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Signed-in sessions. The session id is only ever in the person's cookie; sid_hash is its
-- SHA-256. revoked_at: signed out, or superseded by a new password or role.
CREATE TABLE staff_sessions (
  sid_hash    text PRIMARY KEY CHECK (sid_hash ~ '^[0-9a-f]{64}$'),
  staff_id    text NOT NULL,
  role        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz,
  revoked_why text CHECK (revoked_why IN ('signed_out', 'password_changed', 'credentials_set',
                                          'credentials_removed'))
);
CREATE INDEX staff_sessions_live_by_staff ON staff_sessions (staff_id) WHERE revoked_at IS NULL;
CREATE INDEX staff_sessions_revoked ON staff_sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Failed sign-ins (and wrong old passwords at a change), per staff id and client
-- ('id:<staff>|<client>') and per client ('ip:<client>'), in a window: past the limit the answer
-- is 429 until the window passes. In PostgreSQL so the limit holds across instances.
CREATE TABLE signin_failures (
  key          text PRIMARY KEY,
  window_start timestamptz NOT NULL,
  failures     integer NOT NULL
);
