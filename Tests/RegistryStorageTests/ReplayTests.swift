import Foundation
import PostgresNIO
import PropertyBased
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// Issue #14's property: any sequence of records, corrections and voids for a patient leaves the
/// database in the state that replaying only the surviving records (with their corrected values)
/// would give: the patient's status and holder, the standing doses and every follow-up they
/// scheduled, the standing status changes and the adverse events' report clocks. The first dose is
/// a record like the others: it may be voided, and further doses are given and voided.
@Suite("Replay: records, corrections and voids")
struct ReplayTests {
    static let today = LocalDate("2026-11-25")!
    static let dose = LocalDate("2025-01-10")!

    /// One generated step, decoded from a number: what kind, and its parameters.
    enum Step: CustomStringConvertible {
        case visit(seq: Int), unscheduled(day: Int), event(day: Int, grade: Int), status(StatusChangeKind, day: Int)
        case void(pick: Int), regrade(pick: Int, grade: Int), redate(day: Int), dose(day: Int), voidDose(pick: Int)

        /// `day` counts from the first dose, except for a found, which counts from the latest loss, and
        /// a further dose, which counts from the latest standing status change if there is one.
        init(_ n: Int) {
            let x = n / 20, day = 1 + x % 690, pick = x
            switch n % 20 {
            case 0, 1, 2, 3: self = .visit(seq: x % 12)
            case 4: self = .unscheduled(day: day)
            case 5, 6, 7: self = .event(day: day, grade: [1, 2, 3, 4, 5, 5][x % 6])
            case 8: self = .status(.lost, day: 1 + x % 450)
            case 9, 10: self = .status(.found, day: 1 + x % 120)
            case 11: self = .status(.death, day: day)
            case 12: self = x % 2 == 0 ? .status(.withdrawal, day: day) : .status(.lost, day: 1 + x % 450)
            case 13: self = .status(.transfer, day: day)
            case 14, 15, 16: self = .void(pick: pick)
            case 17: self = .regrade(pick: pick, grade: [1, 2, 3, 5][x % 4])
            case 18: self = .redate(day: day)
            default: self = x % 2 == 0 ? .dose(day: day) : .voidDose(pick: pick)
            }
        }

        var description: String {
            switch self {
            case .visit(let seq): "visit at time point \(seq)"
            case .unscheduled(let day): "unscheduled visit on day \(day)"
            case .event(let day, let grade): "grade \(grade) event on day \(day)"
            case .status(let kind, let day): "\(kind.rawValue) on day \(day)"
            case .void(let pick): "void #\(pick)"
            case .regrade(let pick, let grade): "regrade #\(pick) to \(grade)"
            case .redate(let day): "redate the latest change to day \(day)"
            case .dose(let day): "a further dose on day \(day)"
            case .voidDose(let pick): "void dose #\(pick)"
            }
        }
    }

    /// A record made for the patient, in order, by its id.
    enum Made { case visit(VisitID), event(AdverseEventID), status(StatusChangeID), administration(AdministrationID) }

    /// What is compared: everything a record's consequences can reach.
    struct State: Equatable, CustomStringConvertible {
        var patient: String
        var doses: [String]
        var followUps: [String]
        var changes: [String]
        var events: [String]
        var description: String { "patient \(patient)\ndoses \(doses)\nfollow-ups \(followUps)\nchanges \(changes)\nevents \(events)" }
    }

    @Test("records, corrections and voids leave what replaying the surviving records gives")
    func replay() async throws {
        try await TestDatabase.withDatabase(today: Self.today) { db in
            let plan = try await db.transaction(actor: "test") { tx in
                for (code, name) in [("ARM-001", "Seoul"), ("ARM-002", "Busan")] {
                    _ = try await tx.institutions.add(try NewInstitution(code: code, name: name, designationNumber: "D-\(code)", designatedOn: "2024-01-10", today: tx.today))
                }
                _ = try await tx.products.add(try NewProduct(code: "CT-01", name: "CAR-T", manufacturer: "M", modality: "gene-therapy"))
                let plan = try await tx.plans.add(institutionCode: "ARM-001", productCode: "CT-01", indication: "C91.0", risk: .high)
                return try await tx.plans.decide(id: plan.id, try PlanDecisionRecord(decision: "approved", on: "2024-03-01", reference: "RC-1", today: tx.today))
            }
            let key = try Pseudonymizer(secret: Data(repeating: 7, count: 32))
            let counter = Counter()
            await propertyCheck(count: 100, input: Gen.int(in: 0...100_000).array(of: 4...16)) { numbers in
                let steps = numbers.map(Step.init)
                let n = await counter.next()
                do {
                    let original = try await Self.enrol(db, key: key, localID: "R-\(n)-a")
                    var made: [Made] = [.administration(try await Self.administer(db, patient: original, plan: plan.id, on: Self.dose))]
                    for (i, step) in steps.enumerated() {
                        let (records, kind) = try await Self.apply(step, index: i, patient: original, plan: plan.id, made: made, db: db)
                        made += records
                        if let kind { await counter.count(kind) }
                    }
                    let replayed = try await Self.enrol(db, key: key, localID: "R-\(n)-b")
                    try await Self.replay(made, from: original, onto: replayed, db: db)
                    let got = try await Self.state(original, db: db), want = try await Self.state(replayed, db: db)
                    #expect(got == want, "steps: \(steps)\n--- after the steps:\n\(got)\n--- replaying the survivors:\n\(want)")
                } catch {
                    Issue.record("steps \(steps): \(error)")
                }
            }
            // The cases must reach what the property is about: voids of each kind, deaths taken back, corrections.
            let applied = await counter.applied
            print("replay: steps that took effect over all cases: \(applied.sorted { $0.key < $1.key })")
            for kind in ["void visit", "void event", "void status change", "void death from an event", "void administration", "regrade", "redate", "transfer", "found", "dose"] {
                #expect(applied[kind, default: 0] >= 1, "only \(applied[kind, default: 0]) \(kind) steps took effect: \(applied)")
            }
        }
    }

    /// Case numbers, and how many steps of each kind took effect over all cases.
    actor Counter {
        var value = 0
        var applied: [String: Int] = [:]
        func next() -> Int { value += 1; return value }
        func count(_ kind: String) { applied[kind, default: 0] += 1 }
    }

    /// A patient enrolled the same way each time.
    static func enrol(_ db: Database, key: Pseudonymizer, localID: String) async throws -> PatientID {
        try await db.transaction(actor: "test") { tx in
            try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-001", localID: localID, birthYear: 1970, sex: "female",
                                                        consentOn: "2024-12-01", consentVersion: "v1", pseudonymizer: key, today: tx.today)).patient.id
        }
    }

    /// A dose on `date` (the first is made for every case; further ones are steps).
    static func administer(_ db: Database, patient: PatientID, plan: PlanID, on date: LocalDate) async throws -> AdministrationID {
        try await db.transaction(actor: "test") { tx in
            try await tx.administrations.administer(patientID: patient, planID: plan,
                                                    try NewAdministration(on: date.description, lot: "LOT-1", dose: "1e6", feeNotified: 0, feeCollected: 0, today: tx.today)).administration.id
        }
    }

    /// Applies one step as a coordinator would (confirming consequences); a refused step writes
    /// nothing and makes no record. Returns the record made, if any.
    static func apply(_ step: Step, index: Int, patient: PatientID, plan: PlanID, made: [Made], db: Database) async throws -> ([Made], String?) {
        do {
            return try await db.transaction(actor: "site") { tx -> ([Made], String?) in
                switch step {
                case .visit(let seq):
                    let followUps = try await tx.followUps.of(patientID: patient)
                    guard seq < followUps.count else { return ([], nil) }
                    let f = followUps[seq]
                    return ([.visit(try await tx.visits.log(followUpID: f.id, patientID: nil, try Self.visit(on: f.due)).id)], "visit")
                case .unscheduled(let day):
                    return ([.visit(try await tx.visits.log(followUpID: nil, patientID: patient, try Self.visit(on: dose.adding(days: day))).id)], "visit")
                case .event(let day, let grade):
                    let onset = dose.adding(days: day).description
                    let new = try NewAdverseEvent(onset: onset, aware: onset, term: "Event \(index)", meddra: nil, category: "other", grade: grade, grading: "CTCAE-5.0",
                                                  serious: false, criteria: [], related: "possible", outcome: nil, outcomeOn: nil, today: tx.today)
                    return ([.event(try await tx.adverseEvents.report(patientID: patient, new, confirm: true).0.id)], "event")
                case .status(let kind, let day):
                    var on = dose.adding(days: day), made: [Made] = []
                    if kind == .found {
                        // Found again `day` days after the standing loss; an active patient is lost first, on the dose's anniversary.
                        var loss = try await tx.statusChanges.of(patientID: patient).last(where: { $0.void == nil && $0.kind == .lost })
                        if loss == nil, try await tx.patients.patient(id: patient).status == .active {
                            loss = try await tx.statusChanges.change(.lost, patientID: patient, on: dose.adding(days: 365), reason: "generated")
                            made.append(.status(loss!.id))
                        }
                        on = (loss?.effectiveOn ?? dose).adding(days: day)
                    }
                    made.append(.status(try await tx.statusChanges.change(kind, patientID: patient, on: on, reason: "generated",
                                                                          transferTo: kind == .transfer ? "ARM-002" : nil).id))
                    return (made, kind.rawValue)
                case .void(let pick):
                    let records = made.filter { if case .administration = $0 { false } else { true } }
                    guard !records.isEmpty else { return ([], nil) }
                    switch records[pick % records.count] {
                    case .visit(let id):
                        _ = try await tx.visits.void(id: id, reason: "entered in error", confirm: true)
                        return ([], "void visit")
                    case .event(let id):
                        let (_, consequences) = try await tx.adverseEvents.void(id: id, reason: "entered in error", confirm: true)
                        return ([], consequences.contains { $0.kind == .statusChangeVoided } ? "void death from an event" : "void event")
                    case .status(let id):
                        _ = try await tx.statusChanges.void(id: id, reason: "entered in error", confirm: true)
                        return ([], "void status change")
                    case .administration:
                        return ([], nil)
                    }
                case .voidDose(let pick):
                    let doses = made.compactMap { if case .administration(let id) = $0 { id } else { nil } }
                    _ = try await tx.administrations.void(id: doses[pick % doses.count], reason: "entered in error", confirm: true)
                    return ([], "void administration")
                case .regrade(let pick, let grade):
                    let events = made.compactMap { if case .event(let id) = $0 { id } else { nil } }
                    guard !events.isEmpty else { return ([], nil) }
                    _ = try await tx.adverseEvents.correct(id: events[pick % events.count], reason: "regraded", confirm: true) { d in
                        d.grade = grade
                        d.outcome = grade == 5 ? "fatal" : "recovering"
                        d.serious = grade >= 3
                        d.criteria = grade == 3 ? ["hospitalization"] : []
                    }
                    return ([], "regrade")
                case .redate(let day):
                    let changes = try await tx.statusChanges.of(patientID: patient).filter { $0.void == nil }
                    guard let latest = changes.last else { return ([], nil) }
                    _ = try await tx.statusChanges.correct(id: latest.id, try StatusChangeCorrection(on: dose.adding(days: day).description, details: nil, reason: "redated", today: tx.today), confirm: true)
                    return ([], "redate")
                case .dose(let day):
                    // After the latest standing status change. A dose is given only to a patient active now,
                    // whatever its date, so one dated before a loss, or inside a lost period already closed
                    // by a found, would be refused by the replay of the loss for a reason of its own.
                    let latest = try await tx.statusChanges.of(patientID: patient).last { $0.void == nil }
                    let on = (latest?.effectiveOn ?? dose).adding(days: day)
                    let new = try NewAdministration(on: on.description, lot: "LOT-\(index)", dose: "1e6", feeNotified: 0, feeCollected: 0, today: tx.today)
                    return ([.administration(try await tx.administrations.administer(patientID: patient, planID: plan, new).administration.id)], "dose")
                }
            }
        } catch let error as RegistryError {
            // Refused: nothing written, no record. Anything but a refusal in the registry's terms is a failure.
            #expect([.invalid, .conflict].contains(error.code), "\(step): \(error)")
            return ([], nil)
        }
    }

    static func visit(on date: LocalDate) throws -> NewVisit {
        try NewVisit(on: date.description, contact: "examination", vital: "alive", measures: [], catalogue: TestDatabase.measureCatalogue, note: nil, today: today)
    }

    /// Records the surviving records of `original` again for `replayed`, in their order, with
    /// their values as they stand now; a death recorded from an event follows its event.
    static func replay(_ made: [Made], from original: PatientID, onto replayed: PatientID, db: Database) async throws {
        let (visits, events, changes, followUps, doses) = try await db.read { tx in
            (try await tx.visits.of(patientID: original), try await tx.adverseEvents.of(patientID: original),
             try await tx.statusChanges.of(patientID: original), try await tx.followUps.of(patientID: original),
             try await tx.administrations.list(patientID: original))
        }
        // The replayed dose of each standing original one, as doses are replayed.
        var replayedDose: [AdministrationID: AdministrationID] = [:]
        for record in made {
            try await db.transaction(actor: "replay") { tx in
                switch record {
                case .visit(let id):
                    guard let v = visits.first(where: { $0.id == id }), v.void == nil else { return }
                    let targets = try await tx.followUps.of(patientID: replayed)
                    let target = v.followUpID.flatMap { f in followUps.first { $0.id == f } }
                        .flatMap { f in targets.first { $0.administrationID == replayedDose[f.administrationID] && $0.sequence == f.sequence } }
                    _ = try await tx.visits.log(followUpID: target?.id, patientID: target == nil ? replayed : nil, try Self.visit(on: v.visitedOn))
                case .event(let id):
                    guard let e = events.first(where: { $0.id == id }), e.void == nil else { return }
                    let new = try NewAdverseEvent(onset: e.onsetOn.description, aware: e.awareOn.description, term: e.term, meddra: nil, category: e.category.rawValue,
                                                  grade: e.grade, grading: "CTCAE-5.0", serious: e.serious, criteria: e.seriousnessCriteria.map(\.rawValue),
                                                  related: e.relatedness.rawValue, outcome: e.outcome.rawValue, outcomeOn: e.outcomeOn?.description, today: tx.today)
                    _ = try await tx.adverseEvents.report(patientID: replayed, new, confirm: true)
                case .status(let id):
                    guard let s = changes.first(where: { $0.id == id }), s.void == nil else { return }
                    _ = try await tx.statusChanges.change(s.kind, patientID: replayed, on: s.effectiveOn, reason: s.reason, transferTo: s.toInstitution)
                case .administration(let id):
                    guard let a = doses.first(where: { $0.id == id }), a.void == nil else { return }
                    let new = try NewAdministration(on: a.administeredOn.description, lot: a.lot, dose: a.dose, feeNotified: 0, feeCollected: 0, today: tx.today)
                    replayedDose[id] = try await tx.administrations.administer(patientID: replayed, planID: a.planID, new).administration.id
                }
            }
        }
    }

    /// The patient's state, without ids: follow-ups by time point, status changes by order.
    static func state(_ patient: PatientID, db: Database) async throws -> State {
        try await db.read { tx in
            let p = try await tx.connection.query("""
                SELECT p.status || ' ' || coalesce(p.status_on::text, '-') || ' ' || i.code FROM patient p JOIN institution i ON i.id = p.institution_id WHERE p.id = \(patient)
                """, logger: TestDatabase.logger).decode(String.self).one("patient")
            let changes = try await tx.statusChanges.of(patientID: patient).filter { $0.void == nil }
            let order = Dictionary(uniqueKeysWithValues: changes.enumerated().map { ($1.id, $0) })
            var followUps: [String] = []
            // Those withdrawn with a voided dose have nothing to match: a replay never schedules them.
            for try await (given, seq, status, by, code, completed, timing) in try await tx.connection.query("""
                SELECT a.administered_on, f.seq, f.status, f.suspended_by, i.code, f.completed_on, f.timing
                FROM follow_up f JOIN institution i ON i.id = f.institution_id JOIN administration a ON a.id = f.administration_id
                WHERE f.patient_id = \(patient) AND f.status <> 'voided' ORDER BY a.id, f.seq
                """, logger: TestDatabase.logger).decode((LocalDate, Int16, String, StatusChangeID?, String, LocalDate?, String?).self) {
                followUps.append("\(given)#\(seq) \(status) by:\(by.map { order[$0].map(String.init) ?? "voided \($0)" } ?? "-") \(code) \(completed?.description ?? "-") \(timing ?? "-")")
            }
            let doses = try await tx.administrations.list(patientID: patient).filter { $0.void == nil }.map { "\($0.administeredOn) \($0.lot)" }
            let events = try await tx.adverseEvents.of(patientID: patient).filter { $0.void == nil }
                .map { "\($0.onsetOn) g\($0.grade) serious:\($0.serious) due:\($0.reportDueOn?.description ?? "-")" }
            return State(patient: p, doses: doses, followUps: followUps, changes: changes.map { "\($0.kind.rawValue) \($0.effectiveOn) from-event:\($0.adverseEventID != nil)" },
                         events: events)
        }
    }
}

/// Found by the replay property (steps: a grade 4 event on day 40, a further dose on day 517, the
/// event regraded to 5): the death it recorded on day 40 came before a dose recorded on day 517,
/// so replaying the surviving records refused that dose. A dose is data recorded about the patient.
@Suite("A death before a recorded dose")
struct DeathBeforeDoseTests {
    @Test("a death dated on or before a standing dose is refused, recorded directly or by regrading an event to 5; the day after is allowed")
    func refused() async throws {
        try await TestDatabase.withDatabase { db in
            let f = try await Fixture.make(db)
            let today = db.today()
            _ = try await db.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-04-01", today: today)) }
            _ = try await db.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-09-01", lot: "LOT-8", today: today)) }
            let (ae, _) = try await db.transaction(actor: "test") { tx in
                try await tx.adverseEvents.report(patientID: f.patient.id, try event(onset: "2025-05-10", aware: "2025-05-11", grade: 4, serious: true, criteria: ["life-threatening"]))
            }
            await expectRefusal(field: "on", code: .invalid) {
                _ = try await db.transaction(actor: "test") { tx in try await tx.statusChanges.change(.death, patientID: f.patient.id, on: LocalDate("2025-06-01")!, reason: "x") }
            }
            await #expect(throws: RegistryError.self) {
                _ = try await db.transaction(actor: "test") { tx in
                    try await tx.adverseEvents.correct(id: ae.id, reason: "worse", confirm: true) { draft in draft.grade = 5; draft.outcome = "fatal" }
                }
            }
            // The second case the property found: a death on the day of the last dose (an event that
            // day regraded to 5; replayed, the death came first and the dose was refused).
            await expectRefusal(field: "on", code: .invalid) {
                _ = try await db.transaction(actor: "test") { tx in try await tx.statusChanges.change(.death, patientID: f.patient.id, on: LocalDate("2025-09-01")!, reason: "x") }
            }
            _ = try await db.transaction(actor: "test") { tx in try await tx.statusChanges.change(.death, patientID: f.patient.id, on: LocalDate("2025-09-02")!, reason: "x") }
            #expect(try await db.count("patient", where: "status = 'deceased' AND status_on = '2025-09-02'") == 1)
        }
    }
}
