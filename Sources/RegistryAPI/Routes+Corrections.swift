import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

struct PatientCorrectionBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case reason, birthYear = "birth_year", sex, consentOn = "consent_on", consentVersion = "consent_version" }
    typealias CodingKeys = Field
    var reason: String
    var birthYear: Int?
    var sex: String?
    var consentOn: String?
    var consentVersion: String?
}

struct VisitCorrectionBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case reason, on, contact, vital, measures, note, confirm }
    typealias CodingKeys = Field
    static var nested: [String: any JSONBody.Type] { ["measures": MeasureBody.self] }
    static var pointers: [String: String] { ["measure": "/measures"] }
    var reason: String
    var on: String?
    var contact: String?
    var vital: String?
    var measures: [MeasureBody]?
    var note: String?
    var confirm: Bool?
}

struct AdverseEventCorrectionBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable {
        case reason, onset, aware, term, meddra, category, grade, grading, serious, criteria, related, outcome
        case outcomeOn = "outcome_on", submittedOn = "submitted_on", confirm
    }
    typealias CodingKeys = Field
    var reason: String
    var onset: String?
    var aware: String?
    var term: String?
    var meddra: String?
    var category: String?
    var grade: Int?
    var grading: String?
    var serious: Bool?
    var criteria: [String]?
    var related: String?
    var outcome: String?
    var outcomeOn: String?
    var submittedOn: String?
    var confirm: Bool?
}

struct AdministrationCorrectionBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable {
        case reason, on, lot, dose, feeNotifiedKRW = "fee_notified_krw", feeCollectedKRW = "fee_collected_krw"
    }
    typealias CodingKeys = Field
    static var pointers: [String: String] { ["fee-notified": "/fee_notified_krw", "fee-collected": "/fee_collected_krw"] }
    var reason: String
    var on: String?
    var lot: String?
    var dose: String?
    var feeNotifiedKRW: Int?
    var feeCollectedKRW: Int?
}

/// Corrections: a PATCH with the record's ETag in If-Match. The record is locked and its version
/// compared in the transaction that writes, so two coordinators correcting the same record cannot
/// overwrite each other: the second gets 412 and re-reads. Reason required, kept in the audit trail.
extension RegistryAPI {
    func addCorrectionRoutes(_ routes: RouterGroup<Context>) {
        routes.get("/visits/:id") { _, context in
            let id: VisitID = try id(context)
            return try await read(context, parameters: ["visit": "id"]) { tx, _ in
                let visit = try await tx.visits.visit(id: id)
                return try .json(visit, etag: try await etag(of: .visit, id: id, in: tx))
            }
        }

        routes.patch("/visits/:id") { request, context in
            let id: VisitID = try id(context)
            return try await write(request, context, VisitCorrectionBody.self, parameters: ["visit": "id"]) { b, tx, grant in
                let catalogue = try await MeasureBody.catalogue(for: b.measures, in: tx)
                let c = try VisitCorrection(on: b.on, contact: b.contact, vital: b.vital, measures: MeasureBody.texts(b.measures), catalogue: catalogue,
                                            note: b.note, reason: b.reason, today: database.today(), measureField: MeasureBody.field)
                try await checkIfMatch(request, record: .visit, id: id, name: "visit", in: tx)
                let (visit, consequences) = try await tx.visits.correct(id: id, on: c.on, contact: c.contact, vital: c.vital, measures: c.measures, note: c.note,
                                                                         reason: c.reason, confirm: b.confirm ?? false)
                return try .json(WithKey(base: visit, key: "consequences", extra: consequences), etag: Self.etag(writtenBy: tx))
            }
        }

        routes.patch("/patients/:id") { request, context in
            let id: PatientID = try id(context)
            return try await write(request, context, PatientCorrectionBody.self, parameters: ["patient": "id"]) { b, tx, grant in
                let correction = try PatientCorrection(birthYear: b.birthYear, sex: b.sex, consentOn: b.consentOn, consentVersion: b.consentVersion,
                                                       reason: b.reason, today: database.today())
                try await checkIfMatch(request, record: .patient, id: id, name: "patient", in: tx)
                let patient = try await tx.patients.correct(id: id, correction)
                return try .json(patient, etag: Self.etag(writtenBy: tx))
            }
        }

        routes.get("/adverse-events/:id") { _, context in
            let id: AdverseEventID = try id(context)
            return try await read(context, parameters: ["adverse-event": "id"]) { tx, _ in
                let ae = try await tx.adverseEvents.adverseEvent(id: id)
                return try .json(ae, etag: try await etag(of: .adverseEvent, id: id, in: tx))
            }
        }

        routes.patch("/adverse-events/:id") { request, context in
            let id: AdverseEventID = try id(context)
            return try await write(request, context, AdverseEventCorrectionBody.self, parameters: ["adverse-event": "id"]) { b, tx, grant in
                let c = try AdverseEventCorrection(onset: b.onset, aware: b.aware, term: b.term, meddra: b.meddra, category: b.category, grade: b.grade,
                                                   grading: b.grading, serious: b.serious, criteria: b.criteria, related: b.related, outcome: b.outcome,
                                                   outcomeOn: b.outcomeOn, submittedOn: b.submittedOn, reason: b.reason, today: database.today())
                try await checkIfMatch(request, record: .adverseEvent, id: id, name: "adverse-event", in: tx)
                let (ae, consequences) = try await tx.adverseEvents.correct(id: id, c, confirm: b.confirm ?? false)
                return try .json(WithKey(base: ae, key: "consequences", extra: consequences), etag: Self.etag(writtenBy: tx))
            }
        }

        addVoidRoutes(routes)

        routes.get("/administrations") { request, context in
            let q = try query(request, allowed: ["lot"])
            guard let lot = q["lot"] else {
                throw Problem(.invalidParameter, detail: "give the product lot: /administrations?lot=LOT (a patient's are at /patients/{id}/administrations)",
                              errors: [.parameter("lot", "is required")])
            }
            return try await read(context) { tx, _ in try .json(Page(items: try await tx.administrations.list(lot: lot), nextCursor: nil)) }
        }

        routes.get("/administrations/:id") { _, context in
            let id: AdministrationID = try id(context)
            return try await read(context, parameters: ["administration": "id"]) { tx, _ in
                let admin = try await tx.administrations.administration(id: id)
                return try .json(admin, etag: try await etag(of: .administration, id: id, in: tx))
            }
        }

        routes.patch("/administrations/:id") { request, context in
            let id: AdministrationID = try id(context)
            return try await write(request, context, AdministrationCorrectionBody.self, parameters: ["administration": "id"]) { b, tx, grant in
                let c = try AdministrationCorrection(on: b.on, lot: b.lot, dose: b.dose, feeNotified: b.feeNotifiedKRW, feeCollected: b.feeCollectedKRW,
                                                     reason: b.reason, today: database.today())
                try await checkIfMatch(request, record: .administration, id: id, name: "administration", in: tx)
                let (admin, moved) = try await tx.administrations.correct(id: id, on: c.on, lot: c.lot, dose: c.dose, feeNotified: c.feeNotifiedKRW,
                                                                           feeCollected: c.feeCollectedKRW, reason: c.reason)
                return try .json(WithKey(base: admin, key: "follow_ups_moved", extra: moved), etag: Self.etag(writtenBy: tx))
            }
        }
    }
}
