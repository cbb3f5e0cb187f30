import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// Changes the audit trail behind the registry's back, as someone with direct database access
/// could: as the test superuser, with the append-only triggers out of the way for one transaction.
func tamper(_ database: Database, _ sql: String) async throws {
    try await database.plainTransaction { c in
        try await c.query("BEGIN", logger: TestDatabase.logger)
        try await c.query("SET LOCAL session_replication_role = replica", logger: TestDatabase.logger)
        try await c.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
        try await c.query("COMMIT", logger: TestDatabase.logger)
    }
}

/// A flag one task sets and another polls.
actor Flag {
    private(set) var value = false
    func set() { value = true }
}

/// A registry with a treated patient (a schedule of follow-ups), sealed.
private func treatedAndSealed(_ database: Database) async throws -> Fixture {
    let f = try await Fixture.make(database)
    _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-04-01", today: database.today())) }
    try await AuditTrail.seal(database)
    return f
}

/// An audit row in the middle of the trail, with rows after it: (audit id, entity, entity id).
private func someMiddleRow(_ database: Database) async throws -> (id: Int, entity: String, entityID: Int) {
    let total = try await database.count("audit_log")
    let id = try await database.ints("SELECT id FROM audit_log ORDER BY id OFFSET \(total / 2) LIMIT 1")[0]
    return (id, try await database.text("SELECT entity FROM audit_log WHERE id = \(id)"),
            try await database.ints("SELECT entity_id FROM audit_log WHERE id = \(id)")[0])
}

/// RFC 4180 CSV, parsed the plain way: a reader outside the code under test.
func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = [], row: [String] = [], field = ""
    var quoted = false, afterQuote = false
    var chars = Array(text.unicodeScalars)[...]
    while let c = chars.popFirst() {
        if quoted {
            if c == "\"" {
                if chars.first == "\"" { field.unicodeScalars.append("\""); chars.removeFirst() } else { quoted = false; afterQuote = true }
            } else { field.unicodeScalars.append(c) }
            continue
        }
        switch c {
        case "\"" where field.isEmpty && !afterQuote: quoted = true
        case ",": row.append(field); field = ""; afterQuote = false
        case "\n": row.append(field); rows.append(row); row = []; field = ""; afterQuote = false
        default: field.unicodeScalars.append(c)
        }
    }
    if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
    return rows
}

/// Exports into a temporary file and returns its text.
func exportText(_ database: Database, _ filter: AuditExportFilter, _ format: AuditExportFormat) async throws -> (rows: Int, text: String) {
    let file = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("audit-\(UUID().uuidString).\(format.rawValue)")
    _ = FileManager.default.createFile(atPath: file.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: file) }
    let handle = try FileHandle(forWritingTo: file)
    let export = try await AuditExport.prepare(database, filter: filter)
    let rows = try await export.write(format, to: handle.fileDescriptor)
    try handle.close()
    return (rows, try String(contentsOf: file, encoding: .utf8))
}

@Suite("The tamper-evident audit trail")
struct AuditTrailTests {
    @Test("an untouched registry verifies; a row whose content was changed in the database is named")
    func changedContentIsNamed() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await treatedAndSealed(database)
            let total = try await database.count("audit_log")
            let clean = try await AuditTrail.verify(database)
            #expect(clean.intact)
            #expect(clean.checked == total && clean.unsealed == 0)
            #expect(clean.sealedThrough >= (try await database.ints("SELECT max(id) FROM audit_log"))[0])

            let target = try await someMiddleRow(database)
            try await tamper(database, "UPDATE audit_log SET after = jsonb_set(after, '{status}', '\"completed\"') WHERE id = \(target.id)")
            let result = try await AuditTrail.verify(database)
            #expect(result.firstBreak == AuditTrail.Break(id: target.id, entity: target.entity, entityID: target.entityID, kind: .content))
            #expect(result.firstBreak?.description == "audit row \(target.id) (\(target.entity) \(target.entityID)) was altered: its content no longer matches its hash")
            #expect(result.checked == (try await database.count("audit_log", where: "id <= \(target.id)")))
        }
    }

    @Test("a generated schedule is one audit row per administration holding every column of every follow-up")
    func scheduleAuditHoldsEveryRow() async throws {
        try await TestDatabase.withDatabase { database in
            let f = try await treatedAndSealed(database)
            let administration = try await database.ints("SELECT id FROM administration WHERE patient_id = \(f.patient.id)")[0]
            #expect(try await database.count("audit_log", where: "entity = 'follow_up_schedule' AND entity_id = \(administration)") == 1)
            #expect(try await database.count("audit_log", where: "entity = 'follow_up'") == 0)
            // Every column of follow_up is in the document (a migration that adds one must add it there too).
            let columns = try await database.text("""
                SELECT string_agg(column_name::text, ',' ORDER BY column_name) FROM information_schema.columns
                WHERE table_schema = 'public' AND table_name = 'follow_up'
                """)
            let keys = try await database.text("""
                SELECT string_agg(k, ',' ORDER BY k) FROM audit_log, jsonb_object_keys(after) AS k
                WHERE entity = 'follow_up_schedule' AND entity_id = \(administration)
                """)
            #expect(keys == columns)
            // Element i of each array is row i: rebuilt from the audit row, the schedule equals the table.
            let rebuilt = try await database.text("""
                SELECT string_agg(concat_ws('|', i.id, seq, label, due, ws, we, ct, st), ';' ORDER BY seq::int)
                FROM audit_log a CROSS JOIN LATERAL jsonb_array_elements_text(a.after -> 'id') WITH ORDINALITY AS i(id, n)
                CROSS JOIN LATERAL (SELECT a.after -> 'seq' ->> (n - 1)::int AS seq, a.after -> 'label' ->> (n - 1)::int AS label,
                                           a.after -> 'due_on' ->> (n - 1)::int AS due, a.after -> 'window_start' ->> (n - 1)::int AS ws,
                                           a.after -> 'window_end' ->> (n - 1)::int AS we, a.after -> 'contact_type' ->> (n - 1)::int AS ct,
                                           a.after -> 'status' ->> (n - 1)::int AS st) x
                WHERE a.entity = 'follow_up_schedule' AND a.entity_id = \(administration)
                """)
            let table = try await database.text("""
                SELECT string_agg(concat_ws('|', id, seq, label, due_on, window_start, window_end, contact_type, status), ';' ORDER BY seq)
                FROM follow_up WHERE administration_id = \(administration)
                """)
            #expect(rebuilt == table && table.split(separator: ";").count >= 15)
            // A later change to one follow-up is audited on its own row, before and after.
            _ = try await database.transaction(actor: "test", reason: "closing one") { c in
                try await c.query("UPDATE follow_up SET status = 'not-done', not_done_reason = 'refused' WHERE administration_id = \(administration) AND seq = 1",
                                  logger: TestDatabase.logger)
            }
            #expect(try await database.count("audit_log", where: "entity = 'follow_up' AND action = 'update' AND before ->> 'status' = 'scheduled' AND after ->> 'status' = 'not-done' AND reason = 'closing one'") == 1)
            #expect(try await AuditTrail.verify(database).intact)
        }
    }

    @Test("a row rewritten together with its content hash is found by its broken chain link")
    func rewrittenHashBreaksTheChain() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await treatedAndSealed(database)
            let target = try await someMiddleRow(database)
            try await tamper(database, """
                UPDATE audit_log SET after = jsonb_set(after, '{status}', '"completed"'),
                       content_hash = audit_content_hash(at, tx, actor, action, entity, entity_id, institution_id, patient_id,
                                                         before, jsonb_set(after, '{status}', '"completed"'), reason)
                WHERE id = \(target.id)
                """)
            let result = try await AuditTrail.verify(database)
            #expect(result.firstBreak == AuditTrail.Break(id: target.id, entity: target.entity, entityID: target.entityID, kind: .chain))
        }
    }

    @Test("a removed sealed row breaks the chain at the next row; a removed last row is caught by the seal's head")
    func removedRows() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await treatedAndSealed(database)
            let target = try await someMiddleRow(database)
            let next = try await database.ints("SELECT id FROM audit_log WHERE id > \(target.id) ORDER BY id LIMIT 1")[0]
            let nextEntity = try await database.ints("SELECT entity_id FROM audit_log WHERE id = \(next)")[0]
            let nextKind = try await database.text("SELECT entity FROM audit_log WHERE id = \(next)")
            try await tamper(database, "DELETE FROM audit_log WHERE id = \(target.id)")
            let result = try await AuditTrail.verify(database)
            #expect(result.firstBreak == AuditTrail.Break(id: next, entity: nextKind, entityID: nextEntity, kind: .chain))
        }
        try await TestDatabase.withDatabase { database in
            _ = try await treatedAndSealed(database)
            let lastTwo = try await database.ints("SELECT id FROM audit_log ORDER BY id DESC LIMIT 2")
            try await tamper(database, "DELETE FROM audit_log WHERE id = \(lastTwo[0])")
            let result = try await AuditTrail.verify(database)
            #expect(result.firstBreak?.kind == .removedAfter)
            #expect(result.firstBreak?.id == lastTwo[1])
        }
    }

    @Test("rows written after the last seal are counted as unsealed, then sealed once; the chain tables refuse changes")
    func unsealedRowsAndAppendOnly() async throws {
        try await TestDatabase.withDatabase { database in
            let f = try await treatedAndSealed(database)
            _ = try await database.transaction(actor: "test") { tx in try await tx.institutions.setStatus(code: f.institution.code, status: .suspended, reason: "inspection") }
            let pending = try await AuditTrail.verify(database)
            #expect(pending.intact && pending.unsealed == 1)
            #expect(try await AuditTrail.seal(database) == 1)
            #expect(try await AuditTrail.seal(database) == 0)
            #expect(try await AuditTrail.verify(database).unsealed == 0)
            for sql in ["UPDATE audit_chain SET chain_hash = chain_hash", "DELETE FROM audit_chain", "TRUNCATE audit_chain", "DELETE FROM audit_seal"] {
                await expectRefusal(field: nil, code: .conflict) {
                    try await database.transaction(actor: "test") { c in _ = try await c.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger) }
                }
            }
        }
    }

    @Test("writers running while seals run: afterwards every row is chained exactly once and the trail verifies")
    func concurrentWritersAndSeals() async throws {
        try await TestDatabase.withDatabase { database in
            let f = try await Fixture.make(database)
            let today = database.today()
            let writers = 6, rounds = 8
            let done = Flag()
            // Writers: each transaction draws audit ids and then takes a while to commit (or rolls
            // back), so seals keep running into transactions holding ids below committed ones.
            let writing = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for w in 0..<writers {
                        group.addTask {
                            let patient = try await database.transaction(actor: "writer \(w)") { tx in try await tx.patients.enroll(try NewPatient(institutionCode: f.institution.code, localID: "W-\(w)", birthYear: 1970, sex: "male",
                                                                                consentOn: "2025-03-20", consentVersion: "2", pseudonymizer: Fixture.key, today: today)) }.patient
                            for round in 0..<rounds {
                                _ = try await database.transaction(actor: "writer \(w)") { tx in try await tx.administrations.administer(patientID: patient.id, planID: f.plan.id,
                                                               try f.dose(on: LocalDate("2025-04-01")!.adding(days: round).description, today: today)) }
                                try await database.transaction(actor: "writer \(w)") { c in
                                    try await c.query("UPDATE patient SET consent_version = \(String(round + 3)) WHERE id = \(patient.id)", logger: TestDatabase.logger)
                                    try await c.query("SELECT pg_sleep(0.05)", logger: TestDatabase.logger)
                                }
                                // Rolled back after drawing ids: gaps the sealer must skip.
                                _ = try? await database.transaction(actor: "writer \(w)") { c in
                                    try await c.query("UPDATE patient SET status_on = \(today) WHERE id = \(patient.id)", logger: TestDatabase.logger)
                                    try await c.query("SELECT pg_sleep(0.005)", logger: TestDatabase.logger)
                                    throw CancellationError()
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                await done.set()
            }
            var seals = 0
            while await !done.value {
                // Small batches every other time, to cover seals that take several transactions.
                try await AuditTrail.seal(database, batchSize: seals % 2 == 0 ? 50 : 10_000)
                seals += 1
            }
            try await writing.value
            #expect(seals >= 3, "seals ran while writers wrote")
            try await AuditTrail.seal(database)
            let result = try await AuditTrail.verify(database)
            #expect(result.intact, "\(result.firstBreak?.description ?? "")")
            #expect(result.unsealed == 0)
            let total = try await database.count("audit_log")
            // Each round: the administration, its schedule and the consent update (the rolled-back ones leave none).
            #expect(try await database.count("audit_log", where: "actor LIKE 'writer %'") == writers + writers * rounds * 3)
            #expect(result.checked == total)
            #expect(try await database.count("audit_chain") == total)
            #expect(try await database.count("audit_log a JOIN audit_chain c ON c.audit_id = a.id") == total)
        }
    }

    @Test("export by institution and by patient gives exactly their rows, in CSV and JSON Lines")
    func exportFilters() async throws {
        try await TestDatabase.withDatabase { database in
            let today = database.today()
            let a = try await Fixture.make(database)
            let b = try await Fixture.make(database, code: "ARM-002")
            _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: a.patient.id, planID: a.plan.id, try a.dose(on: "2025-04-01", today: today)) }
            _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: b.patient.id, planID: b.plan.id, try b.dose(on: "2025-04-02", today: today)) }
            try await AuditTrail.seal(database)

            let csv = try await exportText(database, AuditExportFilter(institutionCode: "ARM-001"), .csv)
            let table = parseCSV(csv.text)
            #expect(table.first == AuditExport.columns)
            let expectedA = try await database.ints("SELECT id FROM audit_log WHERE institution_id = \(a.institution.id) ORDER BY id")
            #expect(csv.rows == expectedA.count)
            #expect(table.dropFirst().map { Int($0[0])! } == expectedA)
            #expect(table.dropFirst().allSatisfy { $0.count == 13 && $0[6] == "\(a.institution.id)" && $0[12].count == 64 })
            let firstHash = try await database.text("SELECT encode(content_hash, 'hex') FROM audit_log WHERE id = \(expectedA[0])")
            #expect(table[1][11] == firstHash)
            let at = try await database.text("SELECT to_char(at AT TIME ZONE 'Asia/Seoul', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+09:00' FROM audit_log WHERE id = \(expectedA[0])")
            #expect(table[1][1] == at)

            let jsonl = try await exportText(database, AuditExportFilter(patientID: b.patient.id), .jsonl)
            let objects = try jsonl.text.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            let expectedB = try await database.ints("SELECT id FROM audit_log WHERE patient_id = \(b.patient.id) ORDER BY id")
            #expect(!expectedB.isEmpty && jsonl.rows == expectedB.count)
            #expect(objects.map { $0["id"] as? Int } == expectedB)
            #expect(objects.allSatisfy { $0["patient_id"] as? Int == b.patient.id.rawValue && $0["after"] is [String: Any] && $0["before"] is NSNull })
            #expect(Set(objects.compactMap { $0["entity"] as? String }) == ["patient", "administration", "follow_up_schedule"])
            #expect(objects.allSatisfy { ($0["chain_hash"] as? String)?.count == 64 })

            // --since is a Seoul calendar date on the time a row was written.
            let todayInSeoul = LocalDate.todayInSeoul()
            #expect(try await exportText(database, AuditExportFilter(since: todayInSeoul), .csv).rows == (try await database.count("audit_log")))
            #expect(try await exportText(database, AuditExportFilter(institutionCode: "ARM-002", since: todayInSeoul.adding(days: 1)), .jsonl).rows == 0)
            await expectRefusal(field: "institution", code: .notFound) {
                _ = try await AuditExport.prepare(database, filter: AuditExportFilter(institutionCode: "ARM-404"))
            }
        }
    }

    @Test("reasons with commas, quotes and line breaks survive CSV and JSON Lines unchanged")
    func exportQuoting() async throws {
        try await TestDatabase.withDatabase { database in
            let f = try await Fixture.make(database)
            let reason = "inspection, \"urgent\"\nsee letter 2025-17,\r\nsigned \\ 검사관"
            _ = try await database.transaction(actor: "inspector, \"chief\"") { tx in try await tx.institutions.setStatus(code: f.institution.code, status: .suspended, reason: reason) }
            let filter = AuditExportFilter(institutionCode: f.institution.code)
            let table = parseCSV(try await exportText(database, filter, .csv).text)
            let update = try #require(table.first { $0[3] == "update" && $0[4] == "institution" })
            #expect(update[10] == reason)
            #expect(update[2] == "inspector, \"chief\"")
            let before = try JSONSerialization.jsonObject(with: Data(update[8].utf8)) as? [String: Any]
            #expect(before?["status"] as? String == "active")
            let lines = try await exportText(database, filter, .jsonl).text.split(separator: "\n")
            let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
            let json = try #require(objects.first { $0["action"] as? String == "update" && $0["entity"] as? String == "institution" })
            #expect(json["reason"] as? String == reason)
            #expect((json["after"] as? [String: Any])?["status"] as? String == "suspended")
            #expect(json["chain_hash"] is NSNull, "not sealed yet")
        }
    }

    @Test("registry audit verify, export and seal from the command line")
    func commandLine() async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let cli = RegistryBinary(databaseURL: url, home: home)
        #expect(try cli.run(["institution", "add", "--code", "ARM-001", "--name", "Example University Hospital", "--designation", "D-2025-001", "--designated-on", "2025-02-21"]).status == 0)
        #expect(try cli.run(["institution", "add", "--code", "ARM-002", "--name", "Second Hospital", "--designation", "D-2025-002", "--designated-on", "2025-02-21"]).status == 0)

        // Every command seals what it wrote.
        let verified = try cli.run(["audit", "verify"])
        #expect(verified.status == 0, "\(verified.stderr)")
        let database = try await Database.open(url, logger: TestDatabase.logger)
        let total = try await database.count("audit_log")
        #expect(verified.stdout == "\(total) rows verified, chain intact (0 not yet sealed)\n")

        let file = home.appendingPathComponent("arm-001.csv")
        let exported = try cli.run(["audit", "export", "--institution", "ARM-001", "--format", "csv", "--out", file.path, "--json"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect((exported.json as? [String: Any])?["rows"] as? Int == 1)
        let table = parseCSV(try String(contentsOf: file, encoding: .utf8))
        #expect(table.count == 2 && table[1][4] == "institution" && table[1][3] == "insert")
        let toStdout = try cli.run(["audit", "export", "--format", "jsonl"])
        #expect(toStdout.stdout.split(separator: "\n").count == total)
        #expect(toStdout.stderr.hasPrefix("exported \(total) audit rows"))

        let badFormat = try cli.run(["audit", "export", "--format", "xml", "--json"])
        #expect(badFormat.status == 1)
        #expect(badFormat.errorJSON?["field"] as? String == "format")
        #expect((badFormat.errorJSON?["error"] as? String)?.contains("csv, jsonl") == true)
        let unknown = try cli.run(["audit", "export", "--institution", "ARM-404", "--format", "csv", "--out", home.appendingPathComponent("x.csv").path, "--json"])
        #expect(unknown.errorJSON?["field"] as? String == "institution")
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("x.csv").path), "a refused export creates no file")

        let target = try await database.ints("SELECT id FROM audit_log WHERE entity = 'institution' ORDER BY id DESC LIMIT 1")[0]
        let institution = try await database.ints("SELECT entity_id FROM audit_log WHERE id = \(target)")[0]
        try await tamper(database, "UPDATE audit_log SET reason = 'nothing to see' WHERE id = \(target)")
        let broken = try cli.run(["audit", "verify"])
        #expect(broken.status == 1)
        #expect(broken.stdout == "audit row \(target) (institution \(institution)) was altered: its content no longer matches its hash\n")
        let brokenJSON = try cli.run(["audit", "verify", "--json"])
        #expect(brokenJSON.status == 1)
        #expect(((brokenJSON.json as? [String: Any])?["first_altered"] as? [String: Any])?["id"] as? Int == target)

        let sealed = try cli.run(["audit", "seal", "--json"])
        #expect(sealed.status == 0 && (sealed.json as? [String: Any])?["sealed"] as? Int == 0)
        await database.close()
        try await TestDatabase.drop(url)
    }

    @Test("every audit command's --help shows an example")
    func helpHasExamples() throws {
        let cli = RegistryBinary(databaseURL: nil, home: URL(fileURLWithPath: "/nonexistent"))
        for command in [["audit", "seal"], ["audit", "verify"], ["audit", "export"]] {
            let help = try cli.run(command + ["--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("Example"), "\(command.joined(separator: " ")) --help has no example")
        }
    }
}
