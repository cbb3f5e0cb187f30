-- A follow-up belongs to the administration whose schedule made it, for good. Until now every
-- UPDATE of follow_up ran a statement-level trigger with a transition table that re-checked that
-- each updated row's administration exists (0001): work on every visit logged, every closure and
-- every nightly flagging of overdue rows, although none of them touches administration_id.
-- Instead the column cannot change: a row trigger that PostgreSQL considers only when an UPDATE
-- names administration_id, and fires only when the value differs. The insert-time check (0001)
-- stays, so every follow-up still refers to an administration that exists.

DROP TRIGGER follow_up_administration_update ON follow_up;

CREATE FUNCTION follow_up_administration_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'follow-up % belongs to administration %; its administration cannot change', OLD.id, OLD.administration_id
        USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER follow_up_administration_fixed BEFORE UPDATE OF administration_id ON follow_up
    FOR EACH ROW WHEN (OLD.administration_id IS DISTINCT FROM NEW.administration_id)
    EXECUTE FUNCTION follow_up_administration_fixed();
