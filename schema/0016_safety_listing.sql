-- Safety line listings (issue #16): the pharmacovigilance reviewer's case-level list of serious
-- adverse events and events of special interest, pulled by regulators and administrators. No
-- small-cell suppression applies to a listing (the safety agency receives these cases one by one
-- anyway), so its pulls are recorded with suppression false and K 1, whoever pulls them; the
-- outcome report keeps its rules (regulators: suppression on, K at least 5).
ALTER TABLE report_pull DROP CONSTRAINT report_pull_report_check;
ALTER TABLE report_pull ADD CONSTRAINT report_pull_report_check CHECK (report IN ('outcomes', 'safety-listing'));
ALTER TABLE report_pull DROP CONSTRAINT report_pull_check;
ALTER TABLE report_pull ADD CONSTRAINT report_pull_suppression_check
    CHECK (suppression OR role = 'admin' OR (report = 'safety-listing' AND min_cell = 1));
ALTER TABLE report_pull DROP CONSTRAINT report_pull_check1;
ALTER TABLE report_pull ADD CONSTRAINT report_pull_min_cell_role_check
    CHECK (role <> 'regulator' OR min_cell >= 5 OR report = 'safety-listing');
