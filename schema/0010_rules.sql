-- The registry's bulk rules as SQL functions, each the twin of one Swift definition in
-- RegistryDomain and property-tested against it (RegistryStorageTests, "SQL twins"). Plain SQL
-- functions, IMMUTABLE: the planner inlines them, so index conditions written beside them still serve.

-- DueSoon.includes: scheduled, patient active, window not yet closed, due within `days` days.
CREATE FUNCTION follow_up_due_soon(window_end date, due_on date, status text, patient_status text, on_date date, days int)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT window_end >= on_date AND due_on < on_date + days AND status = 'scheduled' AND patient_status = 'active'
$$;

-- LateReport.isLate: a serious event's expedited report due before the date and not submitted by its due date.
CREATE FUNCTION adverse_event_report_late(serious boolean, due_on date, submitted_on date, on_date date)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(serious AND due_on < on_date AND (submitted_on IS NULL OR submitted_on > due_on), false)
$$;

-- LateReport.isOutstanding: late and still not submitted.
CREATE FUNCTION adverse_event_report_outstanding(serious boolean, due_on date, submitted_on date, on_date date)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(serious AND due_on < on_date AND submitted_on IS NULL, false)
$$;

-- StatusChangeKind.resultingPatientStatus: the patient's status after a change of this kind
-- (NULL for a transfer, which keeps it).
CREATE FUNCTION patient_status_after(kind text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE kind WHEN 'death' THEN 'deceased' WHEN 'withdrawal' THEN 'withdrawn'
                     WHEN 'lost' THEN 'lost-to-follow-up' WHEN 'found' THEN 'active' END
$$;
