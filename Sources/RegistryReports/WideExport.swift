import Crypto
import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// The longitudinal registry as one spreadsheet: one row per patient and time point (every
/// follow-up of every standing dose), the visit that completed it and its measures as columns, in
/// the catalogue's order; coded measures have their answer's name in the next column, products and
/// institutions their names beside their codes. Patients appear by pseudonym only. Written as it
/// is read (memory does not grow with the registry), and recorded in `report_pull` (report
/// `wide`, with its purpose and the SHA-256 of what was written) like every report.
public enum WideExport {
    /// What an export wrote.
    public struct Summary: Sendable, Encodable {
        public var pull: Int
        public var rows: Int
        public var patients: Int
        public var checksum: String
    }

    /// The fixed columns, before the measures.
    public static let columns = ["patient", "institution", "institution_name", "product", "product_name", "administered_on", "lot",
                                 "time_point", "seq", "due_on", "status", "not_done_reason", "visit_on", "contact_type", "vital_status"]

    /// Writes the export to `write` (called with chunks of UTF-8 CSV) and records the pull.
    public static func write(database: Database, purpose: String, institution: String?, language: ReportLanguage, actor: String,
                             today: LocalDate = LocalDate.todayInSeoul(), _ write: (Data) throws -> Void) async throws -> Summary {
        let purpose = try Rules.name(purpose, field: "purpose", maxLength: 500)
        let institution = try institution.map { c throws(RegistryError) in try Rules.institutionCode(c) }
        var hasher = SHA256()
        var rows = 0, patients = 0
        try await database.read(isolation: .repeatableRead) { tx in
            let c = tx.connection
            if let institution {
                let found = try await c.query("SELECT count(*) FROM institution WHERE code = \(institution)", logger: database.logger).decode(Int.self).firstElement()
                guard (found ?? 0) > 0 else { throw RegistryError.notFound("institution", "no institution has code \(institution)", remedy: .list(.institutions)) }
            }
            // The catalogue: each measure's column, and for coded ones the answers' names by value.
            var measures: [(key: String, answers: [String: (code: String, name: String)])] = []
            for try await (key, answers) in try await c.query("SELECT key, answers::text FROM measure_definition ORDER BY id", logger: database.logger).decode((String, String).self) {
                var names: [String: (code: String, name: String)] = [:]
                if let list = try JSONSerialization.jsonObject(with: Data(answers.utf8)) as? [[String: Any]] {
                    for a in list {
                        if let v = a["value"] as? Int, let code = a["code"] as? String {
                            let name = (language == .ko ? a["display_ko"] : a["display"]) as? String ?? code
                            names[String(v)] = (code, name)
                        }
                    }
                }
                measures.append((key, names))
            }
            let index = Dictionary(measures.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { a, _ in a })
            var header = columns
            for m in measures { header.append(m.key); if !m.answers.isEmpty { header.append(m.key + "_label") } }
            func emit(_ line: String) throws {
                let data = Data(line.utf8)
                hasher.update(data: data)
                try write(data)
            }
            try emit(header.map(ReportCSV.field).joined(separator: ",") + "\r\n")
            var buffer = "", buffered = 0
            var lastPatient = ""
            for try await (pseudonym, instCode, instName, productCode, productName, administeredOn, lot, label, seq, dueOn, status, notDone,
                           visitOn, contact, vital, keys, values) in try await c.query("""
                SELECT p.pseudonym, i.code, i.name, pr.code, pr.name, a.administered_on::text, a.lot, f.label, f.seq::int, f.due_on::text, f.status,
                       f.not_done_reason, v.visit_on::text, v.contact_type, v.vital_status,
                       coalesce(m.keys, '{}'), coalesce(m.values, '{}')
                FROM follow_up f
                JOIN administration a ON a.id = f.administration_id AND a.voided_on IS NULL
                JOIN patient p ON p.id = f.patient_id
                JOIN institution i ON i.id = f.institution_id
                JOIN treatment_plan pl ON pl.id = a.plan_id
                JOIN product pr ON pr.id = pl.product_id
                LEFT JOIN visit v ON v.follow_up_id = f.id AND v.voided_on IS NULL
                LEFT JOIN LATERAL (SELECT array_agg(vm.key ORDER BY vm.key) AS keys, array_agg(vm.value::text ORDER BY vm.key) AS values
                                   FROM visit_measure vm WHERE vm.visit_id = v.id) m ON true
                WHERE f.status <> 'voided' AND (\(institution)::text IS NULL OR i.code = \(institution))
                ORDER BY p.pseudonym, a.administered_on, a.id, f.seq
                """, logger: database.logger).decode((String, String, String, String, String, String, String, String, Int32, String, String,
                                                       String?, String?, String?, String?, [String], [String]).self) {
                var cells = [pseudonym, instCode, instName, productCode, productName, administeredOn, lot, label, String(seq), dueOn, status,
                             notDone ?? "", visitOn ?? "", contact ?? "", vital ?? ""]
                var measured = [String](repeating: "", count: measures.count)
                for (k, v) in zip(keys, values) { if let i = index[k] { measured[i] = v } }
                for (i, m) in measures.enumerated() {
                    if m.answers.isEmpty {
                        cells.append(Self.trim(measured[i]))
                    } else {
                        let answer = m.answers[Self.trim(measured[i])]
                        cells.append(answer?.code ?? Self.trim(measured[i]))
                        cells.append(answer?.name ?? "")
                    }
                }
                let line = cells.map(ReportCSV.field).joined(separator: ",") + "\r\n"
                buffer += line
                buffered += line.utf8.count
                rows += 1
                if pseudonym != lastPatient { patients += 1; lastPatient = pseudonym }
                if buffered > 1 << 16 { try emit(buffer); buffer = ""; buffered = 0 }
            }
            if !buffer.isEmpty { try emit(buffer) }
        }
        let checksum = Hex.string(hasher.finalize())
        let parameters = "{\"institution\": \(institution.map { "\"\($0)\"" } ?? "null"), \"language\": \"\(language.rawValue)\"}"
        let pull = try await database.transaction(actor: actor, reason: "wide export: \(purpose)") { tx in
            let rows = try await tx.connection.query("""
                INSERT INTO report_pull (report, pulled_by, role, purpose, parameters, as_of, min_cell, suppression, registry_version, content_sha256)
                VALUES ('wide', \(actor), 'admin', \(purpose), \(parameters)::jsonb, \(today), 1, false, \(RegistryVersion.software), \(checksum))
                RETURNING id
                """, logger: database.logger)
            return try await rows.decode(Int.self).one("the recorded export")
        }
        return Summary(pull: pull, rows: rows, patients: patients, checksum: "sha256:\(checksum)")
    }

    /// `12.50` -> `12.5`, `3.000` -> `3`: numeric text without trailing zeros.
    static func trim(_ s: String) -> String {
        guard s.contains(".") else { return s }
        var t = Substring(s)
        while t.hasSuffix("0") { t = t.dropLast() }
        if t.hasSuffix(".") { t = t.dropLast() }
        return String(t)
    }
}
