-- 0002: a hash chain over the audit trail, so that a changed, inserted or removed audit row is
-- found by `registry audit verify` even when its own content_hash was rewritten to match.
--
-- chain_hash(i) = sha256(chain_hash(i-1) || int8 big-endian id(i) || content_hash(i)), in id order,
-- from 32 zero bytes. The sealer (Swift, RegistryStorage/AuditTrail.swift) computes it in bulk:
-- a per-row trigger would serialise every writer on the chain head and cost a plpgsql call per row.

-- One chain hash per sealed audit row. No foreign key to audit_log: its per-row check would slow
-- sealing of bulk loads, and a row removed from audit_log must leave its link behind as evidence.
CREATE TABLE audit_chain (
    audit_id   bigint PRIMARY KEY,
    chain_hash bytea  NOT NULL CHECK (length(chain_hash) = 32)
);

CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION refuse_change('the audit chain is append-only');
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('the audit chain is append-only');

-- How far the chain reaches: every audit id up to sealed_through is sealed (ids missing there were
-- rolled back), and head is the chain hash of the last sealed row. Exactly one row, advanced by
-- the sealer in the same transaction as the links it adds.
CREATE TABLE audit_seal (
    singleton      boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    sealed_through bigint      NOT NULL CHECK (sealed_through >= 0),
    head           bytea       NOT NULL CHECK (length(head) = 32),
    sealed_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit_seal (sealed_through, head) VALUES (0, decode(repeat('00', 32), 'hex'));

CREATE TRIGGER audit_seal_no_delete BEFORE DELETE ON audit_seal
    FOR EACH ROW EXECUTE FUNCTION refuse_change('the audit seal is never removed');
CREATE TRIGGER audit_seal_no_truncate BEFORE TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('the audit seal is never removed');

-- `registry audit export --since`: audit rows are appended in time order, so a BRIN index finds a
-- date range at almost no cost to the bulk loads that write millions of rows.
CREATE INDEX audit_log_at ON audit_log USING brin (at);
