-- 0019: FHIR R4 Bulk Data exports over HTTP (issue #17). A kick-off (`/fhir/$export`,
-- `/fhir/Group/{institution}/$export`) starts a job that runs in the server process in the
-- background and writes one NDJSON file per resource type under the server's home
-- ($REGISTRY_HOME/exports/<job>/); the client polls the job's status URL, then downloads the files
-- with the token that started it. The job's state is here, so that any server process reading
-- this database answers the polls, and a job whose process went away (a restart) is seen as such:
-- it stops sending heartbeats, and a poll finds it stale and reports it failed.
--
-- Operational, like job_run and api_idempotency: not audited and deleted when the job expires.
-- The export itself is a registry record: report_pull (report 'fhir', schema/0018) holds who
-- pulled what, why and for whom, in the audit trail.
CREATE TABLE fhir_export_job (
    -- 128 random bits, hex: the status URL is not guessable, and only the starting token may use it.
    id               text        PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    token_id         bigint      NOT NULL REFERENCES api_token,
    actor            text        NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    role             text        NOT NULL CHECK (role IN ('admin', 'institution')),
    -- Whose patients: one institution's (a Group export), or every patient (NULL, administrators only).
    institution_id   bigint      REFERENCES institution,
    -- The kick-off request's full URL, as the manifest repeats it.
    request          text        NOT NULL,
    types            text[]      NOT NULL,
    since            timestamptz,
    purpose          text        NOT NULL CHECK (length(purpose) BETWEEN 1 AND 500),
    recipient        text        CHECK (recipient IS NULL OR length(recipient) BETWEEN 1 AND 200),
    status           text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    -- What X-Progress says while it runs.
    progress         text,
    error            text,
    -- Once completed: the snapshot's time, the files ([{type, file, count}]) and the pull recorded.
    transaction_time text,
    output           jsonb,
    pull_id          bigint      REFERENCES report_pull,
    created_at       timestamptz NOT NULL DEFAULT now(),
    heartbeat_at     timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CHECK (role = 'admin' OR institution_id IS NOT NULL),
    CHECK ((status = 'running') = (finished_at IS NULL)),
    CHECK (status <> 'completed' OR (output IS NOT NULL AND transaction_time IS NOT NULL AND pull_id IS NOT NULL))
);
CREATE INDEX fhir_export_job_finished ON fhir_export_job (finished_at) WHERE finished_at IS NOT NULL;
