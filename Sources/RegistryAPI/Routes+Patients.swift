import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage


struct EnrolBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case localID = "local_id", birthYear = "birth_year", sex, consentOn = "consent_on", consentVersion = "consent_version" }
    typealias CodingKeys = Field
    var localID: String
    var birthYear: Int
    var sex: String
    var consentOn: String
    var consentVersion: String
}

struct LookupBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case localID = "local_id" }
    typealias CodingKeys = Field
    var localID: String
}

struct AdministerBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable {
        case planID = "plan_id", on, lot, dose, feeNotifiedKRW = "fee_notified_krw", feeCollectedKRW = "fee_collected_krw"
    }
    typealias CodingKeys = Field
    static var pointers: [String: String] { ["plan": "/plan_id", "fee-notified": "/fee_notified_krw", "fee-collected": "/fee_collected_krw"] }
    var planID: Int
    var on: String
    var lot: String
    var dose: String
    var feeNotifiedKRW: Int
    var feeCollectedKRW: Int
}

/// One coded measure of a visit: `{"key": "ecog", "value": 1}`, with `unit` where it has one; a
/// coded measure's value is its answer's code or value (`{"key": "disease-response", "value": "CR"}`).
struct MeasureBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case key, value, unit }
    typealias CodingKeys = Field
    var key: String
    var value: MeasureInput
    var unit: String?

    /// The measures' texts (`key=value[:unit]`), as the domain checks them.
    static func texts(_ measures: [MeasureBody]?) -> [String] {
        (measures ?? []).map { m in "\(m.key)=\(m.value.text)" + (m.unit.map { ":\($0)" } ?? "") }
    }

    /// Where a refusal of the measure at index `i` points: that measure.
    static func field(_ i: Int) -> String { "measures/\(i)" }

    /// The catalogue's definitions these measures need, as stored.
    static func catalogue(for measures: [MeasureBody]?, in tx: Transaction) async throws -> MeasureCatalogue {
        try await tx.measures.catalogue(covering: (measures ?? []).map(\.key))
    }
}

/// A measure's value in a body: a number, or a coded answer's code (`"CR"`).
enum MeasureInput: Decodable, Sendable {
    case number(Double)
    case code(String)

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let number = try? c.decode(Double.self) { self = .number(number); return }
        if let code = try? c.decode(String.self) { self = .code(code); return }
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected a number, or a coded answer such as \"CR\""))
    }

    var text: String {
        switch self {
        case .number(let x): MeasureValue.formatted(x)
        case .code(let code): code
        }
    }
}

struct VisitBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case on, contact, vital, measures, note, recordDeath = "record_death", screening }
    typealias CodingKeys = Field
    static var nested: [String: any JSONBody.Type] { ["measures": MeasureBody.self] }
    static var pointers: [String: String] { ["measure": "/measures"] }
    var on: String
    var contact: String
    var vital: String
    var measures: [MeasureBody]?
    var note: String?
    var recordDeath: Bool?
    var screening: Bool?

    /// The visit, its measures checked against the catalogue as stored.
    func validated(today: LocalDate, in tx: Transaction) async throws -> NewVisit {
        let catalogue = try await MeasureBody.catalogue(for: measures, in: tx)
        return try NewVisit(on: on, contact: contact, vital: vital, measures: MeasureBody.texts(measures), catalogue: catalogue,
                            note: note, recordDeath: recordDeath ?? false, screening: screening ?? false, today: today, measureField: MeasureBody.field)
    }
}

struct AdverseEventBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable {
        case onset, aware, term, meddra, category, grade, grading, serious, criteria, related, outcome, outcomeOn = "outcome_on", distinct, confirm
    }
    typealias CodingKeys = Field
    var onset: String
    var aware: String
    var term: String
    var meddra: String?
    var category: String
    var grade: Int
    var grading: String?
    var serious: Bool?
    var criteria: [String]?
    var related: String?
    var outcome: String?
    var outcomeOn: String?
    var distinct: Bool?
    var confirm: Bool?
}

struct StatusChangeBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case kind, on, reason, to }
    typealias CodingKeys = Field
    static var pointers: [String: String] { ["cause": "/reason"] }
    var kind: String
    var on: String
    var reason: String
    var to: String?
}

extension RegistryAPI {
    func addInstitutionRoutes(_ routes: RouterGroup<Context>) {
        let patient = ["patient": "id"]

        routes.post("/patients") { request, context in
            try await write(request, context, EnrolBody.self) { b, tx, grant in
                let new = try NewPatient(institutionCode: grant.institutionCode!, localID: b.localID, birthYear: b.birthYear, sex: b.sex,
                                         consentOn: b.consentOn, consentVersion: b.consentVersion, pseudonymizer: pseudonymizer, today: database.today())
                let (p, created) = try await tx.patients.enroll(new)
                return try .json(WithKey(base: p, key: "created", extra: created), status: created ? .created : .ok, location: "/patients/\(p.id)")
            }
        }

        routes.post("/patients/lookup") { request, context in
            try await lookup(request, context, LookupBody.self) { b, tx, grant in
                let key = try LocalPatientKey(institutionCode: grant.institutionCode!, localID: b.localID, pseudonymizer: pseudonymizer)
                return try .json(try await tx.patients.lookup(key))
            }
        }

        routes.get("/patients") { request, context in
            let q = try query(request, allowed: ["pseudonym", "cursor", "limit"])
            let limit = try limit(q)
            let after: PatientID? = try q["cursor"].map(Cursor.id)
            if let prefix = q["pseudonym"], !(8...64).contains(prefix.count) || !prefix.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) {
                throw Problem(.invalidParameter, detail: "pseudonym must be 8 to 64 lowercase hex characters (the start of the pseudonym)",
                              errors: [.parameter("pseudonym", "expected 8 to 64 of 0-9a-f")])
            }
            return try await read(context) { tx, grant in
                let patients = try await tx.patients.list(institutionCode: grant.institutionCode, pseudonymPrefix: q["pseudonym"], after: after, limit: limit + 1)
                return try .json(page(patients, limit: limit) { ["\($0.id)"] })
            }
        }

        routes.get("/patients/:id") { _, context in
            let id: PatientID = try id(context)
            return try await read(context, parameters: patient) { tx, _ in
                // The ETag is the patient row's version: send it back as If-Match to correct the patient's details.
                try .json(try await tx.patients.record(id: id), etag: try await etag(of: .patient, id: id, in: tx))
            }
        }

        routes.get("/patients/:id/administrations") { _, context in
            let id: PatientID = try id(context)
            return try await read(context, parameters: patient) { tx, _ in
                _ = try await tx.patients.patient(id: id)
                return try .json(Page(items: try await tx.administrations.list(patientID: id), nextCursor: nil))
            }
        }

        routes.post("/patients/:id/administrations") { request, context in
            let id: PatientID = try id(context)
            return try await write(request, context, AdministerBody.self, parameters: patient) { b, tx, grant in
                let new = try NewAdministration(on: b.on, lot: b.lot, dose: b.dose, feeNotified: b.feeNotifiedKRW, feeCollected: b.feeCollectedKRW, today: database.today())
                _ = try await tx.patients.patient(id: id)
                let (admin, followUps) = try await tx.administrations.administer(patientID: id, planID: PlanID(rawValue: b.planID), new)
                return try .json(WithKey(base: admin, key: "follow_ups", extra: followUps), status: .created,
                                 location: "/administrations/\(admin.id)", etag: Self.etag(writtenBy: tx))
            }
        }

        routes.get("/patients/:id/follow-ups") { _, context in
            let id: PatientID = try id(context)
            return try await read(context, parameters: patient) { tx, _ in
                try .json(Page(items: try await tx.followUps.of(patientID: id), nextCursor: nil))
            }
        }

        routes.get("/patients/:id/visits") { _, context in
            let id: PatientID = try id(context)
            return try await read(context, parameters: patient) { tx, _ in
                _ = try await tx.patients.patient(id: id)
                return try .json(Page(items: try await tx.visits.of(patientID: id), nextCursor: nil))
            }
        }

        routes.post("/patients/:id/visits") { request, context in
            let id: PatientID = try id(context)
            return try await write(request, context, VisitBody.self, parameters: patient) { b, tx, grant in
                let visit = try await tx.visits.log(followUpID: nil, patientID: id, try await b.validated(today: database.today(), in: tx))
                return try .json(visit, status: .created, location: "/visits/\(visit.id)", etag: Self.etag(writtenBy: tx))
            }
        }

        routes.get("/patients/:id/adverse-events") { _, context in
            let id: PatientID = try id(context)
            return try await read(context, parameters: patient) { tx, _ in
                _ = try await tx.patients.patient(id: id)
                return try .json(Page(items: try await tx.adverseEvents.of(patientID: id), nextCursor: nil))
            }
        }

        routes.post("/patients/:id/adverse-events") { request, context in
            let id: PatientID = try id(context)
            return try await write(request, context, AdverseEventBody.self, parameters: patient) { b, tx, grant in
                var new = try NewAdverseEvent(onset: b.onset, aware: b.aware, term: b.term, meddra: b.meddra, category: b.category, grade: b.grade,
                                              grading: b.grading ?? GradingSystem.ctcae5.description, serious: b.serious ?? false,
                                              criteria: b.criteria ?? [], related: b.related, outcome: b.outcome, outcomeOn: b.outcomeOn, today: database.today())
                new.markedDistinct = b.distinct ?? false
                let (ae, consequences) = try await tx.adverseEvents.report(patientID: id, new, confirm: b.confirm ?? false)
                return try .json(WithKey(base: ae, key: "consequences", extra: consequences), status: .created, location: "/adverse-events/\(ae.id)",
                                 etag: Self.etag(writtenBy: tx))
            }
        }

        routes.get("/patients/:id/status-changes") { _, context in
            let id: PatientID = try id(context)
            return try await read(context, parameters: patient) { tx, _ in
                _ = try await tx.patients.patient(id: id)
                return try .json(Page(items: try await tx.statusChanges.of(patientID: id), nextCursor: nil))
            }
        }

        routes.post("/patients/:id/status-changes") { request, context in
            let id: PatientID = try id(context)
            return try await write(request, context, StatusChangeBody.self, parameters: patient) { b, tx, grant in
                // Every field checked first, each one at fault named in one refusal.
                let input = try NewStatusChange(kind: b.kind, on: b.on, reason: b.reason, to: b.to, today: database.today())
                let change = try await tx.statusChanges.change(input.kind, patientID: id, on: input.on, reason: input.reason, transferTo: input.transferTo)
                return try .json(change, status: .created)
            }
        }

        addFollowUpRoutes(routes)
        addCorrectionRoutes(routes)
    }
}
