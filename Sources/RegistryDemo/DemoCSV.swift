import Foundation
import PostgresNIO
import RegistryDomain
import RegistryImport
import RegistryStorage

/// The synthetic registry as the files a site would import (`registry demo --csv DIR`): one file per
/// import kind, in the import layouts, with the demo's local numbers (`DEMO-` and the patient's id,
/// from which the demo made each pseudonym). Imported in order into a registry holding the same
/// reference data (`registry demo --reference-only`), they give the same registry.
public enum DemoCSV {
    /// What each file holds, as SQL over the registry: the layout's columns, each as text.
    static func query(_ kind: ImportKind, measureKeys: [String]) -> String {
        let patient = "JOIN patient p ON p.id = x.patient_id JOIN institution i ON i.id = p.enrolled_by"
        switch kind {
        case .patients:
            return """
                SELECT i.code, 'DEMO-' || p.id, p.birth_year::text, p.sex, p.consent_on::text, p.consent_version
                FROM patient p JOIN institution i ON i.id = p.enrolled_by WHERE p.voided_on IS NULL ORDER BY p.id
                """
        case .administrations:
            return """
                SELECT i.code, 'DEMO-' || p.id, pr.code, x.plan_id::text, x.administered_on::text, x.lot, x.dose, x.fee_notified_krw::text, x.fee_collected_krw::text
                FROM administration x \(patient) JOIN treatment_plan tp ON tp.id = x.plan_id JOIN product pr ON pr.id = tp.product_id
                WHERE x.voided_on IS NULL ORDER BY x.id
                """
        case .visits:
            let measures = measureKeys.map { key in
                "(SELECT trim_scale(m.value)::text FROM visit_measure m WHERE m.visit_id = x.id AND m.key = '\(key.replacingOccurrences(of: "'", with: "''"))')"
            }
            return """
                SELECT * FROM (
                    SELECT i.code, 'DEMO-' || p.id, a.administered_on::text, f.label, x.visit_on::text, x.contact_type, x.vital_status,
                           CASE WHEN x.screening THEN 'yes' END, x.note, NULL::text\(measures.map { ", " + $0 }.joined()), x.visit_on AS sort_on, x.id AS sort_id
                    FROM visit x \(patient) LEFT JOIN follow_up f ON f.id = x.follow_up_id LEFT JOIN administration a ON a.id = f.administration_id
                    WHERE x.voided_on IS NULL
                    UNION ALL
                    SELECT i.code, 'DEMO-' || p.id, a.administered_on::text, x.label, NULL, NULL, NULL, NULL, NULL, x.not_done_reason\(measures.map { _ in ", NULL" }.joined()),
                           coalesce(x.not_done_on, x.due_on), -x.id
                    FROM follow_up x \(patient) JOIN administration a ON a.id = x.administration_id
                    WHERE x.status = 'not-done' AND a.voided_on IS NULL
                ) v ORDER BY sort_on, sort_id
                """
        case .adverseEvents:
            return """
                SELECT i.code, 'DEMO-' || p.id, x.onset_on::text, x.aware_on::text, x.term, x.meddra_code, x.category, x.grade::text,
                       x.grading_system || '-' || x.grading_version, CASE WHEN x.serious THEN 'yes' ELSE 'no' END, array_to_string(x.seriousness, ';'),
                       x.relatedness, x.outcome, x.outcome_on::text, x.report_submitted_on::text, NULL::text
                FROM adverse_event x \(patient) WHERE x.voided_on IS NULL ORDER BY x.id
                """
        case .statusChanges:
            return """
                SELECT i.code, 'DEMO-' || p.id, x.kind, x.effective_on::text, x.reason
                FROM patient_status_change x \(patient) WHERE x.voided_on IS NULL AND x.adverse_event_id IS NULL AND x.kind <> 'transfer' ORDER BY x.id
                """
        }
    }

    /// Writes `patients.csv`, `administrations.csv`, `visits.csv`, `adverse-events.csv` and
    /// `status-changes.csv` into `directory` (created if need be), in the order they are imported;
    /// returns each file's rows.
    public static func write(database: Database, to directory: URL) async throws -> [(file: String, rows: Int)] {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let keys = try await database.read { tx in try await tx.measures.catalogue() }.definitions.map(\.key)
        var written: [(String, Int)] = []
        for kind in ImportKind.allCases {
            let name = "\(kind.rawValue).csv"
            let path = directory.appendingPathComponent(name).path
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
                  let handle = FileHandle(forWritingAtPath: path) else {
                throw RegistryError.invalid("csv", "cannot write \(path)")
            }
            defer { try? handle.close() }
            let columns = kind.columns.map(\.name) + (kind == .visits ? keys : [])
            var text = columns.joined(separator: ",") + "\r\n"
            var rows = 0
            try await database.read { tx in
                for try await row in try await tx.connection.query(PostgresQuery(unsafeSQL: query(kind, measureKeys: keys)), logger: database.logger) {
                    let r = row.makeRandomAccess()
                    var cells: [String] = []
                    for i in 0..<columns.count { cells.append(try r[i].decode(String?.self) ?? "") }
                    text += cells.map(csvField).joined(separator: ",") + "\r\n"
                    rows += 1
                    if text.utf8.count > 1 << 16 { handle.write(Data(text.utf8)); text = "" }
                }
            }
            handle.write(Data(text.utf8))
            written.append((name, rows))
        }
        return written
    }

    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || s != s.trimmingCharactersInWhitespace() else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension DemoRegistry {
    /// The institutions the demo suspends or revokes, with their status.
    public static let suspendedOrRevoked = [("ARM-137", "suspended"), ("ARM-139", "suspended"), ("ARM-141", "revoked")]

    /// Writes only the reference data (institutions, products, plans) the same seed and as-of date
    /// give: the registry the demo's files (`DemoCSV`) are imported into. Every institution is
    /// active, as each was when its patients were treated (records are entered only at an active
    /// institution); `suspendedOrRevoked` names those the demo later suspends or revokes.
    public static func loadReference(into database: Database, options: DemoOptions) async throws {
        _ = try await writeReference(database: database, options: options, allActive: true)
        try await finish(database: database, options: options)
    }
}
