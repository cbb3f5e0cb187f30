import PostgresNIO
import RegistryDomain

/// Follow-up protocols and their time points.
public struct Protocols: Repository {
    let tx: Transaction

    /// Writes the standard protocols the domain module defines where missing; safe to run on
    /// every start. (The measure catalogue is data: schema/0012 seeds it.)
    public func ensureReferenceData() async throws {
        for cls in FollowUpClass.allCases {
            try await insert(FollowUpProtocol.standard(for: cls))
        }
    }

    /// Adds a follow-up protocol: version 1 of a new code, or the next version of an existing one,
    /// which keeps the code's follow-up class and must differ from the latest version. Plans
    /// submitted from then on that name the code follow the new version; existing plans keep theirs.
    public func add(_ new: NewFollowUpProtocol, reason: String? = nil) async throws -> StoredProtocol {
        try await tx.because(reason)
        // Two versions of one code added at once get consecutive numbers, not a unique violation.
        try await c.query("SELECT pg_advisory_xact_lock(hashtext('follow_up_protocol'), hashtext(\(new.code)))", logger: logger)
        var version = 1
        let latest = try await c.query("SELECT id FROM follow_up_protocol WHERE code = \(new.code) ORDER BY version DESC LIMIT 1", logger: logger)
        if let latestID = try await latest.decode(Int.self).firstElement() {
            let current = try await load(id: latestID)
            guard current.followUpClass == new.followUpClass else {
                throw RegistryError.conflict("follow-up-class", "protocol \(new.code) is for \(current.followUpClass.rawValue) products; a new version keeps the class",
                                             hint: "give the protocol for \(new.followUpClass.rawValue) products a code of its own")
            }
            guard current.timePoints != new.timePoints else {
                throw RegistryError.conflict("time-points", "version \(current.version) of protocol \(new.code) already has exactly these time points; nothing was added")
            }
            version = current.version + 1
        }
        let p = new.versioned(version)
        guard let id = try await insert(p) else {
            throw RegistryError.conflict("code", "protocol \(p.code) version \(p.version) already exists")
        }
        return StoredProtocol(id: id, p)
    }

    /// Every stored protocol by id, with its time points.
    public func all() async throws -> [Int: FollowUpProtocol] {
        var ids: [Int] = []
        for try await id in try await c.query("SELECT id FROM follow_up_protocol ORDER BY id", logger: logger).decode(Int.self) { ids.append(id) }
        var out: [Int: FollowUpProtocol] = [:]
        for id in ids { out[id] = try await load(id: id) }
        return out
    }

    /// The latest version of a protocol code: its id and follow-up class.
    func latest(code: String) async throws -> (id: Int, followUpClass: FollowUpClass) {
        let rows = try await c.query("""
            SELECT id, follow_up_class FROM follow_up_protocol WHERE code = \(code) ORDER BY version DESC LIMIT 1
            """, logger: logger)
        guard let (id, cls) = try await rows.decode((Int, FollowUpClass).self).firstElement() else {
            throw RegistryError.notFound("protocol", "no follow-up protocol has code \(code)")
        }
        return (id, cls)
    }

    /// Inserts a protocol and its time points; nil (and nothing written) when that code and
    /// version already exist.
    @discardableResult
    func insert(_ p: FollowUpProtocol) async throws -> Int? {
        let rows = try await c.query("""
            INSERT INTO follow_up_protocol (code, version, follow_up_class) VALUES (\(p.code), \(p.version), \(p.followUpClass))
            ON CONFLICT (code, version) DO NOTHING RETURNING id
            """, logger: logger)
        guard let id = try await rows.decode(Int.self).firstElement() else { return nil }
        let tps = p.timePoints
        try await c.query("""
            INSERT INTO protocol_time_point (protocol_id, seq, label, offset_amount, offset_unit, window_before, window_after, contact_type)
            SELECT \(id), s, l, a, u, b, w, t
            FROM unnest(\(Array(1...tps.count)), \(tps.map(\.label)), \(tps.map(\.offset.amount)), \(tps.map(\.offset.unit)),
                        \(tps.map(\.windowBefore)), \(tps.map(\.windowAfter)), \(tps.map(\.contactType.rawValue)))
                 AS x(s, l, a, u, b, w, t)
            """, logger: logger)
        return id
    }

    /// A protocol with its time points.
    func load(id: Int) async throws -> FollowUpProtocol {
        let head = try await c.query("SELECT code, version, follow_up_class FROM follow_up_protocol WHERE id = \(id)", logger: logger)
        guard let (code, version, cls) = try await head.decode((String, Int32, FollowUpClass).self).firstElement() else {
            throw RegistryError(.notFound, field: "protocol", "no follow-up protocol has id \(id)")
        }
        var points: [TimePoint] = []
        let rows = try await c.query("""
            SELECT label, offset_amount, offset_unit, window_before, window_after, contact_type
            FROM protocol_time_point WHERE protocol_id = \(id) ORDER BY seq
            """, logger: logger)
        for try await (label, amount, unit, before, after, contact) in rows.decode((String, Int32, String, Int32, Int32, ContactType).self) {
            guard let offset = ScheduleOffset(unit: unit, amount: Int(amount)) else {
                throw StoredValueError(column: "protocol_time_point.offset_unit", value: unit)
            }
            points.append(TimePoint(label: label, offset: offset, windowBefore: Int(before), windowAfter: Int(after), contactType: contact))
        }
        return FollowUpProtocol(code: code, version: Int(version), followUpClass: cls, timePoints: points)
    }
}
