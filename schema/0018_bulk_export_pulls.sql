-- Bulk exchange (issue #17): the patient-level exports are recorded like every report, in
-- report_pull, with who pulled them and why. FHIR R4 Bulk Data exports ('fhir') may be pulled by an
-- institution (its own patients only) or an administrator (every patient, with a stated recipient);
-- the OMOP CDM 5.4 extract ('omop') by administrators only. Patient-level exports are never
-- suppressed: they are recorded with suppression false and K 1.
ALTER TABLE report_pull DROP CONSTRAINT report_pull_report_check;
ALTER TABLE report_pull ADD CONSTRAINT report_pull_report_check
    CHECK (report IN ('outcomes', 'safety-listing', 'wide', 'fhir', 'omop'));
ALTER TABLE report_pull DROP CONSTRAINT report_pull_role_check;
ALTER TABLE report_pull ADD CONSTRAINT report_pull_role_check CHECK (role IN ('admin', 'regulator', 'institution'));
ALTER TABLE report_pull ADD CONSTRAINT report_pull_institution_fhir_check CHECK (role <> 'institution' OR report = 'fhir');
ALTER TABLE report_pull ADD CONSTRAINT report_pull_omop_admin_check CHECK (report <> 'omop' OR role = 'admin');
ALTER TABLE report_pull DROP CONSTRAINT report_pull_suppression_check;
ALTER TABLE report_pull ADD CONSTRAINT report_pull_suppression_check
    CHECK (suppression OR role = 'admin' OR (report IN ('safety-listing', 'fhir') AND min_cell = 1));

-- Whom a patient-level export is for (an administrator states it), and whose patients an
-- institution's export holds.
ALTER TABLE report_pull
    ADD COLUMN recipient      text   CHECK (recipient IS NULL OR length(recipient) BETWEEN 1 AND 200),
    ADD COLUMN institution_id bigint REFERENCES institution,
    ADD CONSTRAINT report_pull_institution_scope_check CHECK ((role = 'institution') = (institution_id IS NOT NULL));
