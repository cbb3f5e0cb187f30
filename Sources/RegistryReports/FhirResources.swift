import Foundation

/// The FHIR R4 resource types the registry exports, in the order they are written.
public enum FhirResourceType: String, CaseIterable, Sendable, Codable {
    case patient = "Patient"
    case researchStudy = "ResearchStudy"
    case researchSubject = "ResearchSubject"
    case medication = "Medication"
    case medicationAdministration = "MedicationAdministration"
    case encounter = "Encounter"
    case observation = "Observation"
    case adverseEvent = "AdverseEvent"
    case carePlan = "CarePlan"

    /// The NDJSON file this type is written to.
    public var fileName: String { rawValue + ".ndjson" }
}

/// The registry's own code systems, identifier systems and extension URLs in the export, in the
/// `urn:registry:` namespace its problem types use (docs/fhir.md lists them).
public enum FhirSystem {
    public static let pseudonym = "urn:registry:fhir:pseudonym"
    public static let institution = "urn:registry:fhir:institution"
    public static let product = "urn:registry:fhir:product"
    public static let study = "urn:registry:fhir:study"
    /// Measures without a LOINC code, by their catalogue code.
    public static let measure = "urn:registry:fhir:measure"
    /// A coded measure's answers: this, `:` and the measure's key (`urn:registry:fhir:measure:disease-response`).
    public static let measureAnswer = "urn:registry:fhir:measure"
    public static let contactType = "urn:registry:fhir:contact-type"
    public static let timePoint = "urn:registry:fhir:time-point"
    public static let followUpStatus = "urn:registry:fhir:follow-up-status"
    public static let adverseEventCategory = "urn:registry:fhir:adverse-event-category"
    public static let relatedness = "urn:registry:fhir:relatedness"
    public static let seriousnessCriterion = "urn:registry:fhir:seriousness-criterion"
    /// Extension: the grade with its grading system and version (CTCAE 5.0 by default).
    public static let gradeExtension = "urn:registry:fhir:StructureDefinition:adverse-event-grade"
    /// Extension, repeated: an ICH E2A seriousness criterion of a serious event.
    public static let seriousnessCriterionExtension = "urn:registry:fhir:StructureDefinition:seriousness-criterion"

    public static let loinc = "http://loinc.org"
    public static let ucum = "http://unitsofmeasure.org"
    public static let icd10 = "http://hl7.org/fhir/sid/icd-10"
    public static let meddra = "http://terminology.hl7.org/CodeSystem/mdr"
    public static let actCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    public static let seriousness = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
    public static let severity = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
    public static let outcome = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
    public static let causality = "http://terminology.hl7.org/CodeSystem/adverse-event-causality-assess"

    /// Catalogue units -> UCUM codes. A unit not listed goes out as `unit` text only, without a system.
    public static let ucumCodes: [String: String] = [
        "g/dL": "g/dL", "mg/dL": "mg/dL", "kg": "kg", "%": "%", "10*3/uL": "10*3/uL", "10*9/L": "10*9/L",
        "cells/uL": "{cells}/uL", "copies/cell": "{copies}/{cell}", "copies/ug": "{copies}/ug",
    ]
}

/// How each resource type is read: one SQL statement per type, each row one resource as JSON text,
/// built by PostgreSQL (`json_build_object`), so that Swift only streams lines to a file. Every
/// statement takes the same two binds, the institution's id ($1, NULL for every institution) and
/// `_since` ($2, NULL for everything), and reads the patients `scope` selects: standing patients,
/// held by the institution, with a change in the audit trail after `_since`. Every resource hangs
/// off those patients, so every reference in an export resolves within it. Voided records are left out.
enum FhirResources {
    /// A SQL string literal of one of this file's constants.
    static func lit(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    /// The condition on `patient p` that selects the export's patients.
    static let scope = """
        p.voided_on IS NULL AND ($1::bigint IS NULL OR p.institution_id = $1::bigint)
          AND ($2::timestamptz IS NULL OR EXISTS (SELECT 1 FROM audit_log l WHERE l.patient_id = p.id AND l.at > $2::timestamptz))
        """
    /// The export's patients' ids, for `IN (...)`.
    static let scoped = "SELECT p.id FROM patient p WHERE \(scope)"

    /// A Medication's id: one per product and lot.
    static func medicationID(product: String, lot: String) -> String { "'medication-' || \(product) || '-' || left(md5(\(lot)), 16)" }

    static func reference(_ type: String, _ id: String) -> String { "json_build_object('reference', '\(type)/' || \(id))" }

    static func coding(_ system: String, _ code: String, display: String? = nil) -> String {
        "json_build_object('system', \(system), 'code', \(code)\(display.map { ", 'display', \($0)" } ?? ""))"
    }

    /// Catalogue unit -> UCUM code, NULL when not known.
    static var ucum: String {
        "CASE vm.unit " + FhirSystem.ucumCodes.sorted { $0.key < $1.key }.map { "WHEN \(lit($0.key)) THEN \(lit($0.value))" }.joined(separator: " ") + " END"
    }

    /// The statement that reads `type`'s resources.
    static func sql(_ type: FhirResourceType) -> String {
        let patientRef = { (column: String) in reference("Patient", "'patient-' || \(column)") }
        switch type {
        case .patient:
            return """
                SELECT json_strip_nulls(json_build_object(
                    'resourceType', 'Patient', 'id', 'patient-' || p.id,
                    'identifier', json_build_array(json_build_object('system', \(lit(FhirSystem.pseudonym)), 'value', p.pseudonym)),
                    'gender', p.sex, 'birthDate', p.birth_year::text,
                    'deceasedDateTime', CASE WHEN p.status = 'deceased' THEN d.died_on::text END,
                    'deceasedBoolean', CASE WHEN p.status = 'deceased' AND d.died_on IS NULL THEN true WHEN p.status = 'active' THEN false END,
                    'managingOrganization', json_build_object('identifier', json_build_object('system', \(lit(FhirSystem.institution)), 'value', i.code),
                                                              'display', i.name)))::text
                FROM patient p JOIN institution i ON i.id = p.institution_id
                LEFT JOIN LATERAL (SELECT max(s.effective_on) AS died_on FROM patient_status_change s
                                   WHERE s.patient_id = p.id AND s.kind = 'death' AND s.voided_on IS NULL) d ON true
                WHERE \(scope)
                ORDER BY p.id
                """
        case .researchStudy:
            return """
                SELECT json_build_object(
                    'resourceType', 'ResearchStudy', 'id', 'study-' || pr.id,
                    'identifier', json_build_array(json_build_object('system', \(lit(FhirSystem.study)), 'value', pr.code)),
                    'title', 'Long-term follow-up of ' || pr.name || ' (' || pr.code || ')',
                    'status', 'active',
                    'focus', json_build_array(json_build_object('coding', json_build_array(\(coding(lit(FhirSystem.product), "pr.code", display: "pr.name"))), 'text', pr.name)),
                    'description', 'Long-term follow-up under the Advanced Regenerative Bio Act: ' || pr.follow_up_years || ' years after administration ('
                                   || pr.modality || ', ' || pr.follow_up_class || ' class) of ' || pr.name || ', made by ' || pr.manufacturer || '.')::text
                FROM product pr
                WHERE EXISTS (SELECT 1 FROM administration a JOIN treatment_plan pl ON pl.id = a.plan_id
                              WHERE pl.product_id = pr.id AND a.voided_on IS NULL AND a.patient_id IN (\(scoped)))
                ORDER BY pr.id
                """
        case .researchSubject:
            return """
                SELECT json_strip_nulls(json_build_object(
                    'resourceType', 'ResearchSubject', 'id', 'subject-' || p.id || '-' || s.product_id,
                    'status', CASE p.status WHEN 'active' THEN 'on-study' WHEN 'withdrawn' THEN 'withdrawn' ELSE 'off-study' END,
                    'period', json_build_object('start', s.first_on::text, 'end', CASE WHEN p.status <> 'active' THEN p.status_on::text END),
                    'study', \(reference("ResearchStudy", "'study-' || s.product_id")),
                    'individual', \(patientRef("p.id"))))::text
                FROM (SELECT a.patient_id, pl.product_id, min(a.administered_on) AS first_on
                      FROM administration a JOIN treatment_plan pl ON pl.id = a.plan_id
                      WHERE a.voided_on IS NULL AND a.patient_id IN (\(scoped))
                      GROUP BY a.patient_id, pl.product_id) s
                JOIN patient p ON p.id = s.patient_id
                ORDER BY p.id, s.product_id
                """
        case .medication:
            return """
                SELECT json_build_object(
                    'resourceType', 'Medication', 'id', \(medicationID(product: "pr.id", lot: "m.lot")),
                    'code', json_build_object('coding', json_build_array(\(coding(lit(FhirSystem.product), "pr.code", display: "pr.name"))), 'text', pr.name),
                    'status', 'active',
                    'manufacturer', json_build_object('display', pr.manufacturer),
                    'batch', json_build_object('lotNumber', m.lot))::text
                FROM (SELECT DISTINCT pl.product_id, a.lot FROM administration a JOIN treatment_plan pl ON pl.id = a.plan_id
                      WHERE a.voided_on IS NULL AND a.patient_id IN (\(scoped))) m
                JOIN product pr ON pr.id = m.product_id
                ORDER BY pr.id, m.lot
                """
        case .medicationAdministration:
            return """
                SELECT json_build_object(
                    'resourceType', 'MedicationAdministration', 'id', 'administration-' || a.id,
                    'status', 'completed',
                    'medicationReference', \(reference("Medication", medicationID(product: "pl.product_id", lot: "a.lot"))),
                    'subject', \(patientRef("a.patient_id")),
                    'effectiveDateTime', a.administered_on::text,
                    'reasonCode', json_build_array(json_build_object('coding', json_build_array(\(coding(lit(FhirSystem.icd10), "pl.indication"))))),
                    'dosage', json_build_object('text', a.dose))::text
                FROM administration a JOIN treatment_plan pl ON pl.id = a.plan_id
                WHERE a.voided_on IS NULL AND a.patient_id IN (\(scoped))
                ORDER BY a.id
                """
        case .encounter:
            return """
                SELECT json_build_object(
                    'resourceType', 'Encounter', 'id', 'visit-' || v.id,
                    'status', 'finished',
                    'class', json_build_object('system', \(lit(FhirSystem.actCode)),
                                               'code', CASE v.contact_type WHEN 'examination' THEN 'AMB' ELSE 'VR' END,
                                               'display', CASE v.contact_type WHEN 'examination' THEN 'ambulatory' ELSE 'virtual' END),
                    'type', json_build_array(json_build_object('coding', json_build_array(\(coding(lit(FhirSystem.contactType), "v.contact_type"))),
                                                               'text', CASE WHEN v.screening THEN 'screening visit (' || v.contact_type || ')'
                                                                            ELSE 'follow-up visit (' || v.contact_type || ')' END)),
                    'subject', \(patientRef("v.patient_id")),
                    'period', json_build_object('start', v.visit_on::text, 'end', v.visit_on::text),
                    'serviceProvider', json_build_object('identifier', json_build_object('system', \(lit(FhirSystem.institution)), 'value', i.code),
                                                         'display', i.name))::text
                FROM visit v JOIN institution i ON i.id = v.institution_id
                WHERE v.voided_on IS NULL AND v.patient_id IN (\(scoped))
                ORDER BY v.id
                """
        case .observation:
            // A coded measure: its answer as a CodeableConcept; a measure with a unit: a Quantity
            // (UCUM where the unit has a UCUM code); a whole-number score without a unit: an integer.
            return """
                SELECT json_strip_nulls(json_build_object(
                    'resourceType', 'Observation', 'id', 'measure-' || vm.id,
                    'status', 'final',
                    'code', json_build_object('coding', json_build_array(\(coding("CASE WHEN vm.code_system = 'LOINC' THEN \(lit(FhirSystem.loinc)) ELSE \(lit(FhirSystem.measure)) END", "vm.code", display: "md.display"))),
                                              'text', md.display),
                    'subject', \(patientRef("vm.patient_id")),
                    'encounter', \(reference("Encounter", "'visit-' || v.id")),
                    'effectiveDateTime', v.visit_on::text,
                    'valueCodeableConcept', CASE WHEN ans.a IS NOT NULL THEN json_build_object(
                        'coding', json_build_array(\(coding("\(lit(FhirSystem.measureAnswer + ":")) || md.key", "ans.a ->> 'code'", display: "ans.a ->> 'display'"))),
                        'text', ans.a ->> 'display') END,
                    'valueInteger', CASE WHEN ans.a IS NULL AND vm.unit IS NULL AND md.is_integer THEN vm.value::int END,
                    'valueQuantity', CASE WHEN ans.a IS NULL AND NOT (vm.unit IS NULL AND md.is_integer) THEN json_build_object(
                        'value', trim_scale(vm.value), 'unit', vm.unit,
                        'system', CASE WHEN \(ucum) IS NOT NULL THEN \(lit(FhirSystem.ucum)) END, 'code', \(ucum)) END))::text
                FROM visit_measure vm
                JOIN visit v ON v.id = vm.visit_id AND v.voided_on IS NULL
                JOIN measure_definition md ON md.key = vm.key
                LEFT JOIN LATERAL (SELECT x AS a FROM jsonb_array_elements(md.answers) x WHERE (x ->> 'value')::numeric = vm.value LIMIT 1) ans ON true
                WHERE vm.patient_id IN (\(scoped))
                ORDER BY vm.id
                """
        case .adverseEvent:
            // The suspect: the latest standing dose on or before the onset (events come after the
            // first dose; should none be, the earliest).
            return """
                SELECT json_strip_nulls(json_build_object(
                    'resourceType', 'AdverseEvent', 'id', 'adverse-event-' || e.id,
                    'extension', json_build_array(json_build_object('url', \(lit(FhirSystem.gradeExtension)), 'extension', json_build_array(
                                     json_build_object('url', 'grade', 'valueInteger', e.grade),
                                     json_build_object('url', 'system', 'valueString', e.grading_system),
                                     json_build_object('url', 'version', 'valueString', e.grading_version))))::jsonb
                                 || coalesce((SELECT jsonb_agg(jsonb_build_object('url', \(lit(FhirSystem.seriousnessCriterionExtension)),
                                                                                'valueCoding', jsonb_build_object('system', \(lit(FhirSystem.seriousnessCriterion)), 'code', c)) ORDER BY c)
                                              FROM unnest(e.seriousness) c), '[]'::jsonb),
                    'actuality', 'actual',
                    'category', json_build_array(json_build_object('coding', json_build_array(\(coding(lit(FhirSystem.adverseEventCategory), "e.category"))))),
                    'event', json_build_object('coding', CASE WHEN e.meddra_code IS NOT NULL THEN json_build_array(\(coding(lit(FhirSystem.meddra), "e.meddra_code"))) END,
                                               'text', e.term),
                    'subject', \(patientRef("e.patient_id")),
                    'date', e.onset_on::text,
                    'detected', e.aware_on::text,
                    'seriousness', json_build_object('coding', json_build_array(\(coding(lit(FhirSystem.seriousness), "CASE WHEN e.serious THEN 'serious' ELSE 'non-serious' END",
                                                                                       display: "CASE WHEN e.serious THEN 'Serious' ELSE 'Non-serious' END")))),
                    'severity', json_build_object('coding', json_build_array(\(coding(lit(FhirSystem.severity), "CASE e.grade WHEN 1 THEN 'mild' WHEN 2 THEN 'moderate' ELSE 'severe' END")))),
                    'outcome', json_build_object('coding', json_build_array(\(coding(lit(FhirSystem.outcome), """
                        CASE e.outcome WHEN 'recovered' THEN 'resolved' WHEN 'recovering' THEN 'recovering' WHEN 'not-recovered' THEN 'ongoing'
                                       WHEN 'recovered-with-sequelae' THEN 'resolvedWithSequelae' WHEN 'fatal' THEN 'fatal' ELSE 'unknown' END
                        """))), 'text', e.outcome || coalesce(' (' || e.outcome_on || ')', '')),
                    'suspectEntity', CASE WHEN s.administration_id IS NOT NULL THEN json_build_array(json_build_object(
                        'instance', \(reference("MedicationAdministration", "'administration-' || s.administration_id")),
                        'causality', json_build_array(json_build_object(
                            'assessment', json_build_object('coding', CASE WHEN e.relatedness = 'not-related' THEN json_build_array(\(coding(lit(FhirSystem.relatedness), "e.relatedness")))
                                ELSE json_build_array(\(coding(lit(FhirSystem.causality), """
                                    CASE e.relatedness WHEN 'definite' THEN 'Certain' WHEN 'probable' THEN 'Probably-Likely' WHEN 'possible' THEN 'Possible'
                                                       WHEN 'unlikely' THEN 'Unlikely' ELSE 'Unassessable-Unclassifiable' END
                                    """)), \(coding(lit(FhirSystem.relatedness), "e.relatedness"))) END,
                                'text', e.relatedness),
                            'productRelatedness', e.relatedness)))) END,
                    'study', CASE WHEN s.product_id IS NOT NULL THEN json_build_array(\(reference("ResearchStudy", "'study-' || s.product_id"))) END))::text
                FROM adverse_event e
                LEFT JOIN LATERAL (SELECT a.id AS administration_id, pl.product_id FROM administration a JOIN treatment_plan pl ON pl.id = a.plan_id
                                   WHERE a.patient_id = e.patient_id AND a.voided_on IS NULL
                                   ORDER BY a.administered_on <= e.onset_on DESC,
                                            CASE WHEN a.administered_on <= e.onset_on THEN a.administered_on END DESC, a.administered_on, a.id
                                   LIMIT 1) s ON true
                WHERE e.voided_on IS NULL AND e.patient_id IN (\(scoped))
                ORDER BY e.id
                """
        case .carePlan:
            // One per standing dose: its follow-up schedule, each time point an activity with its
            // due date and window, its status, and the visit that completed it.
            return """
                SELECT json_strip_nulls(json_build_object(
                    'resourceType', 'CarePlan', 'id', 'careplan-' || a.id,
                    'status', CASE p.status WHEN 'active' THEN 'active' WHEN 'withdrawn' THEN 'revoked' WHEN 'deceased' THEN 'completed' ELSE 'on-hold' END,
                    'intent', 'plan',
                    'title', 'Long-term follow-up after ' || pr.code || ' on ' || a.administered_on,
                    'subject', \(patientRef("a.patient_id")),
                    'period', json_build_object('start', a.administered_on::text, 'end', f.last_due::text),
                    'supportingInfo', json_build_array(\(reference("MedicationAdministration", "'administration-' || a.id"))),
                    'activity', f.activities))::text
                FROM administration a
                JOIN patient p ON p.id = a.patient_id
                JOIN treatment_plan pl ON pl.id = a.plan_id
                JOIN product pr ON pr.id = pl.product_id
                LEFT JOIN LATERAL (
                    SELECT max(fu.due_on) AS last_due, json_agg(json_build_object(
                        'outcomeReference', CASE WHEN v.id IS NOT NULL THEN json_build_array(\(reference("Encounter", "'visit-' || v.id"))) END,
                        'detail', json_build_object(
                            'code', json_build_object('coding', json_build_array(\(coding(lit(FhirSystem.contactType), "fu.contact_type"))), 'text', fu.label),
                            'status', CASE fu.status WHEN 'scheduled' THEN 'scheduled' WHEN 'completed' THEN 'completed' WHEN 'not-done' THEN 'cancelled' ELSE 'stopped' END,
                            'statusReason', CASE WHEN fu.status IN ('not-done', 'not-required', 'missed') THEN json_build_object(
                                'coding', json_build_array(\(coding(lit(FhirSystem.followUpStatus), "fu.status"))),
                                'text', fu.status || coalesce(': ' || fu.not_done_reason, '')) END,
                            'scheduledTiming', json_build_object('event', json_build_array(fu.due_on::text),
                                                                 'repeat', json_build_object('boundsPeriod', json_build_object('start', fu.window_start::text, 'end', fu.window_end::text))),
                            'description', fu.label || ': due ' || fu.due_on || ', window ' || fu.window_start || ' to ' || fu.window_end
                                           || ', ' || fu.status || coalesce(' (' || fu.completed_on || ')', ''))) ORDER BY fu.seq) AS activities
                    FROM follow_up fu LEFT JOIN visit v ON v.follow_up_id = fu.id AND v.voided_on IS NULL
                    WHERE fu.administration_id = a.id AND fu.status <> 'voided') f ON true
                WHERE a.voided_on IS NULL AND \(scope)
                ORDER BY a.id
                """
        }
    }
}
