import PostgresNIO
import RegistryDomain

/// The standard OMOP concepts the extract uses, each checked against OHDSI's published
/// conventions and ETLs (docs/omop.md lists where). Every registry code without a standard
/// concept (products, MedDRA, ICD-10, LOINC and registry measure codes, units) maps to concept 0
/// with its code kept as the source value.
public enum OmopConcept {
    /// Gender: MALE, FEMALE (the registry's `other` and `unknown` are 0).
    public static let male = 8507, female = 8532
    /// Type Concept "Registry": the provenance of every row (period, visit, drug, condition,
    /// measurement, observation, death and episode types).
    public static let registry = 32879
    /// Visit: "Outpatient Visit" for an examination, "Telehealth" for a telephone contact; a
    /// questionnaire the patient returns is no encounter with a provider, so 0.
    public static let outpatientVisit = 9202, telehealth = 5083
    /// Episode: "Treatment Regimen", the oncology extension's episode of a course of treatment.
    public static let treatmentRegimen = 32531
    /// Field concepts: drug_exposure.drug_exposure_id (episode_event's event field) and
    /// condition_occurrence.condition_occurrence_id (an adverse event's attributes point at it).
    public static let drugExposureID = 1147094, conditionOccurrenceID = 1147127
    /// "OMOP CDM Version 5.4.0", cdm_source.cdm_version_concept_id.
    public static let cdm54 = 756265
}

/// The mapping from the registry to the CDM, one SELECT per table. Each returns the table's
/// columns in CDM order, every one as text (NULL where the CDM column stays empty), ordered by its
/// key so runs compare byte for byte. They read `omop_person` (the temporary table of the
/// patients extracted: standing, with a standing dose, of the institution asked for) and standing
/// rows only: voided records are left out. docs/omop.md says the same field by field.
enum OmopMapping {
    /// Observation ids: a coded measure's is its visit_measure id × 16; an adverse event's
    /// attributes are its id × 16 + the attribute's number (1 to 6), its seriousness criteria
    /// × 16 + 8 + their position (at most six), so the two never meet.
    static let observationStride = 16

    /// The patients extracted, into `omop_person` (created by the caller): standing, with a
    /// standing dose, held by `institution` when one is given.
    static func personFilter(_ institution: String?) -> PostgresQuery {
        """
        INSERT INTO omop_person (person_id)
        SELECT p.id FROM patient p JOIN institution i ON i.id = p.institution_id
        WHERE p.voided_on IS NULL
          AND EXISTS (SELECT 1 FROM administration a WHERE a.patient_id = p.id AND a.voided_on IS NULL)
          AND (\(institution)::text IS NULL OR i.code = \(institution))
        """
    }

    static let r = OmopConcept.registry

    /// Each table's SELECT, by table name (cdm_source is written from the extract's own values).
    static let queries: [String: String] = [
        "person": """
            SELECT p.id::text, CASE p.sex WHEN 'male' THEN '\(OmopConcept.male)' WHEN 'female' THEN '\(OmopConcept.female)' ELSE '0' END,
                   p.birth_year::text, NULL, NULL, NULL, '0', '0', NULL, NULL, NULL,
                   left(p.pseudonym, 50), p.sex, '0', NULL, NULL, NULL, NULL
            FROM patient p JOIN omop_person o ON o.person_id = p.id
            ORDER BY p.id
            """,
        // From the first record (the first dose, or a screening visit before it) to the last
        // contact: a dose, a visit, an adverse event's onset or outcome, a status change.
        "observation_period": """
            SELECT d.patient_id::text, d.patient_id::text, min(d.on_date)::text, max(d.on_date)::text, '\(r)'
            FROM (SELECT patient_id, administered_on AS on_date FROM administration WHERE voided_on IS NULL
                  UNION ALL SELECT patient_id, visit_on FROM visit WHERE voided_on IS NULL
                  UNION ALL SELECT patient_id, onset_on FROM adverse_event WHERE voided_on IS NULL
                  UNION ALL SELECT patient_id, outcome_on FROM adverse_event WHERE voided_on IS NULL AND outcome_on IS NOT NULL
                  UNION ALL SELECT patient_id, effective_on FROM patient_status_change WHERE voided_on IS NULL) d
            JOIN omop_person o ON o.person_id = d.patient_id
            GROUP BY d.patient_id
            ORDER BY d.patient_id
            """,
        "visit_occurrence": """
            SELECT v.id::text, v.patient_id::text,
                   CASE v.contact_type WHEN 'examination' THEN '\(OmopConcept.outpatientVisit)' WHEN 'phone' THEN '\(OmopConcept.telehealth)' ELSE '0' END,
                   v.visit_on::text, NULL, v.visit_on::text, NULL, '\(r)', NULL, NULL,
                   v.contact_type, '0', NULL, NULL, NULL, NULL, NULL
            FROM visit v JOIN omop_person o ON o.person_id = v.patient_id
            WHERE v.voided_on IS NULL
            ORDER BY v.id
            """,
        // Adverse events (id × 2; MedDRA code, else the term, as source value; ended by a
        // resolving outcome's date) and each treated indication (ICD-10, from its first dose; id:
        // that dose's × 2 + 1).
        "condition_occurrence": """
            SELECT id::text, patient_id::text, '0', start_date::text, NULL, end_date::text, NULL, '\(r)', NULL, NULL, NULL, NULL, NULL,
                   source_value, '0', status
            FROM (SELECT e.id * 2 AS id, e.patient_id, e.onset_on AS start_date,
                         CASE WHEN e.outcome IN ('recovered', 'recovered-with-sequelae', 'fatal') THEN e.outcome_on END AS end_date,
                         coalesce(e.meddra_code, left(e.term, 50)) AS source_value, 'adverse event' AS status
                  FROM adverse_event e JOIN omop_person o ON o.person_id = e.patient_id
                  WHERE e.voided_on IS NULL
                  UNION ALL
                  SELECT min(a.id) * 2 + 1, a.patient_id, min(a.administered_on), NULL, pl.indication, 'treatment indication'
                  FROM administration a JOIN omop_person o ON o.person_id = a.patient_id JOIN treatment_plan pl ON pl.id = a.plan_id
                  WHERE a.voided_on IS NULL
                  GROUP BY a.patient_id, pl.indication) c
            ORDER BY id
            """,
        "drug_exposure": """
            SELECT a.id::text, a.patient_id::text, '0', a.administered_on::text, NULL, a.administered_on::text, NULL, NULL, '\(r)',
                   NULL, NULL, NULL, NULL, a.dose, NULL, a.lot, NULL, NULL, NULL, pr.code, '0', NULL, NULL
            FROM administration a JOIN omop_person o ON o.person_id = a.patient_id
            JOIN treatment_plan pl ON pl.id = a.plan_id JOIN product pr ON pr.id = pl.product_id
            WHERE a.voided_on IS NULL
            ORDER BY a.id
            """,
        // Numeric measures; coded ones (with answers) go to observation.
        "measurement": """
            SELECT m.id::text, v.patient_id::text, '0', v.visit_on::text, NULL, NULL, '\(r)', NULL, m.value::text, NULL,
                   CASE WHEN m.unit IS NOT NULL THEN '0' END, NULL, NULL, NULL, v.id::text, NULL,
                   m.code, '0', m.unit, NULL, m.value::text, NULL, NULL
            FROM visit_measure m JOIN visit v ON v.id = m.visit_id AND v.voided_on IS NULL
            JOIN omop_person o ON o.person_id = v.patient_id
            JOIN measure_definition d ON d.key = m.key
            WHERE d.answers = '[]'::jsonb
            ORDER BY m.id
            """,
        // Coded measures (the answer's code as the value), then each adverse event's attributes,
        // pointing at the event's condition_occurrence row.
        "observation": """
            SELECT id::text, patient_id::text, '0', on_date::text, NULL, '\(r)', value_number, value_string, CASE WHEN value_string IS NOT NULL THEN '0' END,
                   NULL, NULL, NULL, visit_id::text, NULL, source_value, '0', NULL, NULL, value_source, event_id::text,
                   CASE WHEN event_id IS NOT NULL THEN '\(OmopConcept.conditionOccurrenceID)' END
            FROM (SELECT m.id * \(observationStride) AS id, v.patient_id, v.visit_on AS on_date, m.value::text AS value_number,
                         answer.code AS value_string, v.id AS visit_id, m.code AS source_value, answer.code AS value_source, NULL::bigint AS event_id
                  FROM visit_measure m JOIN visit v ON v.id = m.visit_id AND v.voided_on IS NULL
                  JOIN omop_person o ON o.person_id = v.patient_id
                  JOIN measure_definition d ON d.key = m.key
                  LEFT JOIN LATERAL (SELECT a ->> 'code' AS code FROM jsonb_array_elements(d.answers) a
                                     WHERE (a ->> 'value')::numeric = m.value LIMIT 1) answer ON true
                  WHERE d.answers <> '[]'::jsonb
                  UNION ALL
                  SELECT e.id * \(observationStride) + k.n, e.patient_id, CASE WHEN k.n = 4 THEN coalesce(e.outcome_on, e.onset_on) ELSE e.onset_on END,
                         CASE WHEN k.n = 1 THEN e.grade::text END, k.value, NULL, k.source, k.value_source, e.id * 2
                  FROM adverse_event e JOIN omop_person o ON o.person_id = e.patient_id
                  CROSS JOIN LATERAL (VALUES (1, 'ae-grade', left(e.grading_system || ' ' || e.grading_version, 60), e.grade::text),
                                             (2, 'ae-serious', CASE WHEN e.serious THEN 'yes' ELSE 'no' END, NULL),
                                             (3, 'ae-relatedness', e.relatedness, NULL),
                                             (4, 'ae-outcome', e.outcome, NULL),
                                             (5, 'ae-category', e.category, NULL),
                                             (6, 'ae-term', left(e.term, 60), NULL)) k(n, source, value, value_source)
                  WHERE e.voided_on IS NULL
                  UNION ALL
                  SELECT e.id * \(observationStride) + 7 + c.n, e.patient_id, e.onset_on, NULL, c.criterion, NULL, 'ae-seriousness-criterion', NULL, e.id * 2
                  FROM adverse_event e JOIN omop_person o ON o.person_id = e.patient_id
                  CROSS JOIN LATERAL unnest(e.seriousness) WITH ORDINALITY c(criterion, n)
                  WHERE e.voided_on IS NULL) x
            ORDER BY id
            """,
        // The standing death record; its cause when a grade 5 event recorded it (coded, never the
        // free-text reason).
        "death": """
            SELECT DISTINCT ON (s.patient_id) s.patient_id::text, s.effective_on::text, NULL, '\(r)',
                   CASE WHEN e.id IS NOT NULL THEN '0' END, coalesce(e.meddra_code, left(e.term, 50)), CASE WHEN e.id IS NOT NULL THEN '0' END
            FROM patient_status_change s JOIN omop_person o ON o.person_id = s.patient_id
            LEFT JOIN adverse_event e ON e.id = s.adverse_event_id AND e.voided_on IS NULL
            WHERE s.kind = 'death' AND s.voided_on IS NULL
            ORDER BY s.patient_id, s.effective_on, s.id
            """,
        // A course of treatment: a patient's standing doses under one treatment plan (id: the
        // course's first dose), numbered in the patient's order.
        "episode": """
            SELECT min(a.id)::text, a.patient_id::text, '\(OmopConcept.treatmentRegimen)', min(a.administered_on)::text, NULL,
                   max(a.administered_on)::text, NULL, NULL,
                   (row_number() OVER (PARTITION BY a.patient_id ORDER BY min(a.administered_on), min(a.id)))::text,
                   '0', '\(r)', pr.code, '0'
            FROM administration a JOIN omop_person o ON o.person_id = a.patient_id
            JOIN treatment_plan pl ON pl.id = a.plan_id JOIN product pr ON pr.id = pl.product_id
            WHERE a.voided_on IS NULL
            GROUP BY a.patient_id, a.plan_id, pr.code
            ORDER BY min(a.id)
            """,
        "episode_event": """
            SELECT (min(a.id) OVER (PARTITION BY a.patient_id, a.plan_id))::text, a.id::text, '\(OmopConcept.drugExposureID)'
            FROM administration a JOIN omop_person o ON o.person_id = a.patient_id
            WHERE a.voided_on IS NULL
            ORDER BY a.id
            """,
    ]

    /// cdm_source's one row: the registry, its version and the extract's date, as bound values.
    static func cdmSource(today: LocalDate, institution: String?) -> PostgresQuery {
        let scope = institution.map { "the patients held by institution \($0)" } ?? "every patient"
        let values: [String?] = [
            "Long-term follow-up registry for advanced regenerative medicine (Korea)",
            "KR-ARM-LTFU",
            "Long-term follow-up registry for advanced regenerative medicine",
            "Patients treated with advanced regenerative medicine under Korea's Advanced Regenerative Bio Act, known by pseudonym only, "
                + "with their doses, follow-up visits and measures, adverse events and status; \(scope) with a standing dose. "
                + "Registry software \(RegistryVersion.software). Codes without a standard concept are kept as source values with concept 0.",
            nil,
            "registry \(RegistryVersion.software) docs/omop.md",
            today.description, today.description, "5.4", String(OmopConcept.cdm54), "none",
        ]
        var query = PostgresQuery(unsafeSQL: "SELECT " + values.indices.map { "$\($0 + 1)::text" }.joined(separator: ", "))
        for value in values {
            if let value { query.binds.append(value) } else { query.binds.appendNull() }
        }
        return query
    }
}
