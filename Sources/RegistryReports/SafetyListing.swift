import Crypto
import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// One event of a safety line listing (CIOMS II style): pseudonymised, with the dose it followed.
public struct SafetyListingRow: Equatable, Sendable {
    /// A stable case pseudonym: the same patient has the same case in every listing (derived from
    /// the registry's pseudonym, which it does not reveal).
    public var caseID: String
    public var eventID: AdverseEventID
    public var institution: String
    /// The product and lot of the latest dose on or before the onset, and which dose it was;
    /// nil when the event began before any dose.
    public var product: String?
    public var lot: String?
    public var doseNumber: Int?
    /// Days from that dose to the onset.
    public var onsetDay: Int?
    public var term: String
    public var meddra: String?
    public var category: AdverseEventCategory
    public var grade: Int
    public var grading: String
    public var serious: Bool
    public var criteria: [String]
    public var outcome: AdverseEventOutcome
    public var outcomeOn: LocalDate?
    public var relatedness: String
    public var awareOn: LocalDate
    public var reportDueOn: LocalDate?
    public var reportSubmittedOn: LocalDate?
    public var clock: ReportClock
}

/// The safety line listing: every serious adverse event and every event of special interest
/// that sites learnt of in a period, case by case, for the safety agency. No suppression applies;
/// the purpose is required and the pull is recorded in `report_pull` (and so in the audit trail)
/// with who, role, purpose, parameters and the checksum of what was handed out.
public enum SafetyListing {
    /// Builds the listing and records the pull.
    public static func build(database: Database, request: SafetyListingRequest, actor: String, role: ReportRole) async throws -> SafetyListingResult {
        let rows = try await database.plainTransaction(isolation: .repeatableRead) { tx in
            try await read(tx.connection, request, logger: database.logger)
        }
        let result = SafetyListingResult(request: request, rows: rows)
        result.pullID = try await database.transaction(actor: actor, reason: "safety listing: \(request.purpose)") { tx in
            let parameters = String(decoding: CanonicalJSON.object(SafetyListingResult.parameters(request)).serialized(), as: UTF8.self)
            return try await tx.connection.query("""
                INSERT INTO report_pull (report, pulled_by, role, purpose, parameters, as_of, min_cell, suppression, registry_version, content_sha256)
                VALUES ('safety-listing', \(actor), \(role.rawValue), \(request.purpose), \(parameters)::jsonb, \(request.to), 1, false,
                        \(RegistryVersion.software), \(result.checksum))
                RETURNING id
                """, logger: database.logger).decode(Int.self).one("the recorded pull")
        }
        return result
    }

    static func read(_ c: PostgresConnection, _ r: SafetyListingRequest, logger: Logger) async throws -> [SafetyListingRow] {
        // Special interest: every category but `other` (AdverseEventCategory.isOfSpecialInterest).
        let rows = try await c.query("""
            SELECT 'C-' || upper(substr(encode(sha256(convert_to('case:' || p.pseudonym, 'UTF8')), 'hex'), 1, 12)), e.id, i.code,
                   pr.code, a.lot, a.number::int, (e.onset_on - a.administered_on)::int, e.term, e.meddra_code, e.category, e.grade::int,
                   e.grading_system || ' ' || e.grading_version, e.serious, array_to_string(e.seriousness, ';'), e.outcome,
                   CASE WHEN e.outcome_on <= \(r.to) THEN e.outcome_on END, e.relatedness, e.aware_on, e.report_due_on,
                   CASE WHEN e.report_submitted_on <= \(r.to) THEN e.report_submitted_on END
            FROM adverse_event e JOIN patient p ON p.id = e.patient_id JOIN institution i ON i.id = e.institution_id
            LEFT JOIN LATERAL (SELECT d.lot, d.administered_on, d.plan_id,
                                      (SELECT count(*) FROM administration b WHERE b.patient_id = d.patient_id AND b.voided_on IS NULL
                                         AND (b.administered_on, b.id) <= (d.administered_on, d.id)) AS number
                               FROM administration d WHERE d.patient_id = e.patient_id AND d.voided_on IS NULL AND d.administered_on <= e.onset_on
                               ORDER BY d.administered_on DESC, d.id DESC LIMIT 1) a ON true
            LEFT JOIN treatment_plan pl ON pl.id = a.plan_id LEFT JOIN product pr ON pr.id = pl.product_id
            WHERE e.voided_on IS NULL AND p.voided_on IS NULL AND (e.serious OR e.category <> 'other')
              AND e.aware_on BETWEEN \(r.from) AND \(r.to)
              AND (\(r.product)::text IS NULL OR pr.code = \(r.product))
            ORDER BY e.aware_on, e.id
            """, logger: logger)
        var out: [SafetyListingRow] = []
        for try await row in rows {
            let x = row.makeRandomAccess()
            let serious = try x[12].decode(Bool.self), due = try x[18].decode(LocalDate?.self), submitted = try x[19].decode(LocalDate?.self)
            let criteria = try x[13].decode(String.self)
            out.append(SafetyListingRow(
                caseID: try x[0].decode(String.self), eventID: try x[1].decode(AdverseEventID.self), institution: try x[2].decode(String.self),
                product: try x[3].decode(String?.self), lot: try x[4].decode(String?.self), doseNumber: try x[5].decode(Int?.self),
                onsetDay: try x[6].decode(Int?.self), term: try x[7].decode(String.self), meddra: try x[8].decode(String?.self),
                category: try x[9].decode(AdverseEventCategory.self), grade: try x[10].decode(Int.self), grading: try x[11].decode(String.self),
                serious: serious, criteria: criteria.isEmpty ? [] : criteria.split(separator: ";").map(String.init),
                outcome: try x[14].decode(AdverseEventOutcome.self), outcomeOn: try x[15].decode(LocalDate?.self),
                relatedness: try x[16].decode(String.self), awareOn: try x[17].decode(LocalDate.self), reportDueOn: due, reportSubmittedOn: submitted,
                clock: ReportClock.of(serious: serious, dueOn: due, submittedOn: submitted, asOf: r.to)))
        }
        return out
    }
}

/// A built listing and its renderings: canonical JSON (its SHA-256, without the checksum member,
/// is the listing's checksum) and CSV with one row per event, both carrying the checksum.
public final class SafetyListingResult: @unchecked Sendable {
    public let request: SafetyListingRequest
    public let rows: [SafetyListingRow]
    public let checksum: String
    public internal(set) var pullID = 0
    private let document: [String: CanonicalJSON]

    init(request: SafetyListingRequest, rows: [SafetyListingRow]) {
        self.request = request
        self.rows = rows
        var document: [String: CanonicalJSON] = [
            "listing": .string("safety"),
            "parameters": .object(Self.parameters(request)),
            "registry_version": .string(RegistryVersion.software),
            "events": .array(rows.map { .object(Self.fields($0).mapValues { $0.map(CanonicalJSON.string) ?? .null }) }),
            "cases": .int(Set(rows.map(\.caseID)).count),
        ]
        checksum = Hex.string(SHA256.hash(data: CanonicalJSON.object(document).serialized()))
        document["checksum"] = .string("sha256:\(checksum)")
        self.document = document
    }

    static func parameters(_ r: SafetyListingRequest) -> [String: CanonicalJSON] {
        ["from": .string(r.from.description), "to": .string(r.to.description), "product": r.product.map(CanonicalJSON.string) ?? .null]
    }

    /// The columns, in order.
    static let columns = ["case_id", "event_id", "institution", "product", "lot", "dose_number", "onset_day_after_dose", "term", "meddra_code",
                          "category", "grade", "grading", "serious", "seriousness_criteria", "outcome", "outcome_on", "relatedness",
                          "aware_on", "report_due_on", "report_submitted_on", "report_clock"]

    static func fields(_ r: SafetyListingRow) -> [String: String?] {
        ["case_id": r.caseID, "event_id": String(r.eventID.rawValue), "institution": r.institution, "product": r.product, "lot": r.lot,
         "dose_number": r.doseNumber.map(String.init), "onset_day_after_dose": r.onsetDay.map(String.init), "term": r.term, "meddra_code": r.meddra,
         "category": r.category.rawValue, "grade": String(r.grade), "grading": r.grading, "serious": r.serious ? "yes" : "no",
         "seriousness_criteria": r.criteria.joined(separator: ";"), "outcome": r.outcome.rawValue, "outcome_on": r.outcomeOn?.description,
         "relatedness": r.relatedness, "aware_on": r.awareOn.description, "report_due_on": r.reportDueOn?.description,
         "report_submitted_on": r.reportSubmittedOn?.description, "report_clock": r.clock.rawValue]
    }

    public func json() -> Data { CanonicalJSON.object(document).serialized() }

    /// RFC 4180 CSV: a header, one row per event, then the checksum as a comment-free last row
    /// (`checksum,sha256:...`) so the file carries it as the JSON does.
    public func csv() -> Data {
        var out = Self.columns.joined(separator: ",") + "\r\n"
        for row in rows {
            let f = Self.fields(row)
            out += Self.columns.map { ReportCSV.field((f[$0] ?? nil) ?? "") }.joined(separator: ",") + "\r\n"
        }
        out += "checksum,sha256:\(checksum)\r\n"
        return Data(out.utf8)
    }
}
