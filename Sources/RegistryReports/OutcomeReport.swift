import Crypto
import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// The regulators' outcome report: aggregates by product, indication, institution and year, with
/// survival, safety, completeness, outcome measures and fees, small cells suppressed. Every pull
/// is recorded in `report_pull` (and so in the audit trail) with who, role, purpose, parameters
/// and the checksum of what was handed out.
public enum OutcomeReport {
    /// Builds the report, records the pull, and returns it. Refuses parameters the role may not
    /// ask for (K below the floor, suppression off for a regulator) before reading anything.
    public static func build(database: Database, parameters: ReportParameters, actor: String, role: ReportRole,
                             today: LocalDate = LocalDate.todayInSeoul()) async throws -> ReportResult {
        let p = try parameters.validated(role: role, today: today)
        // One snapshot for every table; the cohort is a temporary table, so not a read-only transaction.
        let data = try await database.plainTransaction(isolation: .repeatableRead) { tx in
            try await OutcomeData.read(tx.connection, parameters: p, logger: database.logger)
        }
        let content = OutcomeTables.content(data, parameters: p)
        let result = ReportResult(content: content)
        result.pullID = try await record(result, snapshot: data.cut.snapshot, database: database, actor: actor, role: role)
        return result
    }

    /// The parameters of an earlier outcome report's pull, to pull its cut again: the same as-of
    /// date, filters, breakdown, K and suppression, and the horizon and snapshot it read. The new
    /// pull's purpose is its own. A regulator may repeat only a cut a regulator could have pulled.
    public static func cut(database: Database, pull: Int, purpose: String) async throws -> ReportParameters {
        let query: PostgresQuery = """
            SELECT parameters::text, \(unescaped: DataCut.utcText("recorded_by")), snapshot::text
            FROM report_pull WHERE id = \(pull) AND report = 'outcomes'
            """
        let rows = try await database.read { tx in
            let result = try await tx.connection.query(query, logger: database.logger)
            return try await result.decode((String, String?, String?).self).firstElement()
        }
        guard let (text, recordedBy, snapshot) = rows else {
            throw RegistryError.notFound("cut", "no outcome report was pulled as pull \(pull)", remedy: nil)
        }
        guard let recordedBy, let snapshot else {
            throw RegistryError.invalid("cut", "pull \(pull) was made before cuts were recorded (schema 17); pull the report with --as-of and --recorded-by instead")
        }
        guard let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let asOfText = json["as_of"] as? String, let asOf = LocalDate(asOfText),
              let minimumCell = json["min_cell"] as? Int, let suppression = json["suppression"] as? Bool else {
            throw RegistryError.invalid("cut", "pull \(pull)'s recorded parameters cannot be read")
        }
        var p = ReportParameters(purpose: purpose, asOf: asOf, product: json["product"] as? String, indication: json["indication"] as? String,
                                 institution: json["institution"] as? String,
                                 by: ((json["by"] as? [String]) ?? []).compactMap(ReportDimension.init(rawValue:)),
                                 minimumCell: minimumCell, suppression: suppression)
        p.perturbation = json["perturbation"] as? Bool ?? true
        p.cut = DataCut(horizon: json["horizon"] as? String)
        p.cut.repeated = (pull, recordedBy, snapshot)
        return p
    }

    /// Records the pull in an audited transaction: the actor is who pulled it, the reason its purpose.
    static func record(_ r: ReportResult, snapshot: String, database: Database, actor: String, role: ReportRole) async throws -> Int {
        let p = r.content.parameters
        var recorded = ReportJSON.parameters(p)
        if case .object(var members) = recorded { members["horizon"] = ReportJSON.optional(p.cut.horizon); recorded = .object(members) }
        let parameters = String(decoding: recorded.serialized(), as: UTF8.self)
        return try await database.transaction(actor: actor, reason: "outcome report: \(p.purpose)") { tx in
            let rows = try await tx.connection.query("""
                INSERT INTO report_pull (report, pulled_by, role, purpose, parameters, as_of, min_cell, suppression, registry_version, content_sha256,
                                         recorded_by, snapshot, cut_of)
                VALUES ('outcomes', \(actor), \(role.rawValue), \(p.purpose), \(parameters)::jsonb, \(p.asOf), \(p.minimumCell),
                        \(p.suppression), \(r.content.registryVersion), \(r.checksum),
                        \(r.content.recordedBy)::timestamptz, \(snapshot)::pg_snapshot, \(p.cut.repeated?.pull))
                RETURNING id
                """, logger: database.logger)
            return try await rows.decode(Int.self).one("the recorded pull")
        }
    }
}

/// A built report and its renderings. The JSON is canonical (sorted keys, fixed decimals, no
/// time stamp but the as-of date) and its SHA-256, over the document without the checksum
/// field, is the report's checksum, carried by every format.
public final class ReportResult: @unchecked Sendable {
    /// The figures.
    public let content: OutcomeReportContent
    /// Hex SHA-256 of the canonical JSON without its `checksum` member.
    public let checksum: String
    /// The `report_pull` row recording this pull.
    public internal(set) var pullID = 0
    /// The canonical JSON without the checksum member.
    private let body: Data

    init(content: OutcomeReportContent) {
        self.content = content
        body = CanonicalJSON.object(ReportJSON.document(content)).serialized()
        checksum = Hex.string(SHA256.hash(data: body))
    }

    /// The canonical JSON, with `"checksum": "sha256:…"`. Serialised once: the member is spliced
    /// in where sorted keys put it, between `as_of` and `definitions` (a test checks this equals
    /// serialising the whole document).
    public func json() -> Data {
        let next = Data("\n  \"definitions\": ".utf8)
        guard let at = body.range(of: next) else { preconditionFailure("the report document always has definitions") }
        var out = Data(body[..<at.lowerBound])
        out.append(Data("\n  \"checksum\": \"sha256:\(checksum)\",".utf8))
        out.append(body[at.lowerBound...])
        return out
    }

    /// The whole document serialised at once, for the test of `json()`.
    func serializedWithChecksum() -> Data {
        var document = ReportJSON.document(content)
        document["checksum"] = .string("sha256:\(checksum)")
        return CanonicalJSON.object(document).serialized()
    }

    /// Long-format CSV: one row per group, measure and time point.
    public func csv() -> Data { Data(ReportCSV.render(content, checksum: checksum).utf8) }

    /// One self-contained HTML page with inline SVG charts, its words in `language` (the figures
    /// and the checksum are the same in every language).
    public func html(language: ReportLanguage = .en) -> Data { Data(ReportHTML.render(content, checksum: checksum, language: language).utf8) }
}
