import Foundation
import PostgresNIO
import RegistryDomain

/// The measure catalogue: the `measure_definition` table (seeded by schema/0012), the one source
/// of the measures visits may record. Administrators add measures; none is ever removed.
public struct Measures: Repository {
    let tx: Transaction

    static let columns = "key, code_system, code, display, display_ko, unit, minimum::float8, maximum::float8, is_integer, answers::text"

    /// Every measure, in the order they were added.
    public func catalogue() async throws -> MeasureCatalogue {
        MeasureCatalogue(try await definitions(c.query("SELECT \(unescaped: Self.columns) FROM measure_definition ORDER BY id", logger: logger)))
    }

    /// What a visit's measures are checked against: the definitions of `keys` (one indexed read;
    /// none for a visit without measures), or the whole catalogue when a key names no measure, so
    /// that the refusal can list them all.
    public func catalogue(covering keys: [String]) async throws -> MeasureCatalogue {
        let wanted = Array(Set(keys))
        guard !wanted.isEmpty else { return MeasureCatalogue([]) }
        let found = try await definitions(c.query("SELECT \(unescaped: Self.columns) FROM measure_definition WHERE key = ANY(\(wanted)) ORDER BY id", logger: logger))
        return found.count == wanted.count ? MeasureCatalogue(found) : try await catalogue()
    }

    /// Adds a measure, audited with the reason. A key, or a code in its system, that is already
    /// in the catalogue is refused and nothing is written.
    public func add(_ new: NewMeasureDefinition, reason: String) async throws -> MeasureDefinition {
        try await tx.because(reason)
        let d = new.definition
        let answers = String(decoding: try Self.encoder.encode(d.answers), as: UTF8.self)
        let rows = try await c.query("""
            INSERT INTO measure_definition (key, code_system, code, display, display_ko, unit, minimum, maximum, is_integer, answers)
            VALUES (\(d.key), \(d.codeSystem), \(d.code), \(d.display), \(d.displayKo), \(d.unit), \(MeasureValue.formatted(d.minimum))::numeric,
                    \(MeasureValue.formatted(d.maximum))::numeric, \(d.integer), \(answers)::jsonb)
            ON CONFLICT DO NOTHING RETURNING \(unescaped: Self.columns)
            """, logger: logger)
        if let added = try await definitions(rows).first { return added }
        let existing = try await definitions(c.query("""
            SELECT \(unescaped: Self.columns) FROM measure_definition WHERE key = \(d.key) OR (code_system = \(d.codeSystem) AND code = \(d.code))
            """, logger: logger))
        if let same = existing.first(where: { $0.key == d.key }) {
            throw RegistryError.conflict("key", "the catalogue already has a measure \(d.key) (\(same.codeSystem) \(same.code), \(same.display)); measures are never changed or removed",
                                         hint: "give the new measure a key of its own", remedy: .list(.measures))
        }
        let other = existing.first.map { " as \($0.key)" } ?? ""
        throw RegistryError.conflict("code", "\(d.codeSystem) code \(d.code) is already in the catalogue\(other); one measure per code",
                                     remedy: .list(.measures))
    }

    private func definitions(_ rows: PostgresRowSequence) async throws -> [MeasureDefinition] {
        var out: [MeasureDefinition] = []
        for try await (key, system, code, display, displayKo, unit, minimum, maximum, integer, answers)
            in rows.decode((String, String, String, String, String, String?, Double, Double, Bool, String).self) {
            let coded: [MeasureAnswer]
            do { coded = try Self.decoder.decode([MeasureAnswer].self, from: Data(answers.utf8)) } catch {
                throw StoredValueError(column: "measure_definition.answers", value: answers)
            }
            out.append(MeasureDefinition(key: key, codeSystem: system, code: code, display: display, displayKo: displayKo, unit: unit,
                                         minimum: minimum, maximum: maximum, integer: integer, answers: coded))
        }
        return out
    }

    // The answers column holds [{"value", "code", "display", "display_ko"}] (schema/0012).
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = .sortedKeys
        return e
    }()
    private static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()
}
