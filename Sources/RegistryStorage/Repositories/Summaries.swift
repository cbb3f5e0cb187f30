import Foundation
import PostgresNIO
import RegistryDomain

/// One institution's registry-wide counts, as regulators see them: nil where a count from 1 to
/// the minimum cell size less one is suppressed.
public struct InstitutionSummary: Codable, Equatable, Sendable {
    public var institutionCode: String
    public var institutionName: String
    public var patients: Int?
    public var activePatients: Int?
    public var administrations: Int?
    public var overdueFollowUps: Int?
    public var adverseEvents: Int?
    public var seriousAdverseEvents: Int?

    enum CodingKeys: String, CodingKey {
        case institutionCode, institutionName, patients, activePatients, administrations, overdueFollowUps, adverseEvents, seriousAdverseEvents
    }

    /// Suppressed counts are written as null, not left out: a reader sees that the cell exists.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(institutionCode, forKey: .institutionCode)
        try c.encode(institutionName, forKey: .institutionName)
        for (value, key) in [(patients, CodingKeys.patients), (activePatients, .activePatients), (administrations, .administrations),
                             (overdueFollowUps, .overdueFollowUps), (adverseEvents, .adverseEvents), (seriousAdverseEvents, .seriousAdverseEvents)] {
            try c.encode(value, forKey: key)
        }
    }
}

/// Regulators' counts by institution, small counts suppressed.
public struct Summaries: Repository {
    let tx: Transaction

    /// Counts by institution on a date, small counts suppressed (`registry_summary()` in SQL, which
    /// reads patient rows on the caller's behalf: regulators' transactions see none themselves).
    public func byInstitution(minCell: Int, on date: LocalDate) async throws -> [InstitutionSummary] {
        var out: [InstitutionSummary] = []
        let rows = try await c.query("SELECT * FROM registry_summary(\(Int32(minCell)), \(date))", logger: logger)
        for try await (code, name, patients, active, administrations, overdue, events, serious)
            in rows.decode((String, String, Int?, Int?, Int?, Int?, Int?, Int?).self) {
            out.append(InstitutionSummary(institutionCode: code, institutionName: name, patients: patients, activePatients: active,
                                          administrations: administrations, overdueFollowUps: overdue, adverseEvents: events,
                                          seriousAdverseEvents: serious))
        }
        return out
    }
}
