import Hummingbird
import RegistryDomain
import RegistryStorage

/// A void: the record's reason for being entered in error, and the user's confirmation of what
/// else it changes.
struct VoidBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case reason, confirm }
    typealias CodingKeys = Field
    var reason: String
    var confirm: Bool?
}

struct StatusChangeCorrectionBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case reason, on, details, confirm }
    typealias CodingKeys = Field
    var reason: String
    var on: String?
    var details: String?
    var confirm: Bool?
}

/// Voids (records entered in error: kept, marked, left out of schedules, clocks, worklists and
/// reports) of visits, adverse events, status changes, administrations and patients, and
/// corrections of status changes. Like corrections, each takes the record's ETag in
/// If-Match. What a void changes besides its record (a death taken back, follow-ups owed again) is
/// refused with 409 and listed in `consequences` until the request says `confirm: true`; the
/// answer lists what was changed.
extension RegistryAPI {
    func addVoidRoutes(_ routes: RouterGroup<Context>) {
        routes.post("/visits/:id/void") { request, context in
            let id: VisitID = try id(context)
            return try await write(request, context, VoidBody.self, parameters: ["visit": "id"]) { b, tx, grant in
                try await checkIfMatch(request, record: .visit, id: id, name: "visit", in: tx)
                let (visit, consequences) = try await tx.visits.void(id: id, reason: b.reason, confirm: b.confirm ?? false)
                return try .json(WithKey(base: visit, key: "consequences", extra: consequences), etag: Self.etag(writtenBy: tx))
            }
        }

        routes.post("/adverse-events/:id/void") { request, context in
            let id: AdverseEventID = try id(context)
            return try await write(request, context, VoidBody.self, parameters: ["adverse-event": "id"]) { b, tx, grant in
                try await checkIfMatch(request, record: .adverseEvent, id: id, name: "adverse-event", in: tx)
                let (ae, consequences) = try await tx.adverseEvents.void(id: id, reason: b.reason, confirm: b.confirm ?? false)
                return try .json(WithKey(base: ae, key: "consequences", extra: consequences), etag: Self.etag(writtenBy: tx))
            }
        }

        routes.post("/administrations/:id/void") { request, context in
            let id: AdministrationID = try id(context)
            return try await write(request, context, VoidBody.self, parameters: ["administration": "id"]) { b, tx, _ in
                try await checkIfMatch(request, record: .administration, id: id, name: "administration", in: tx)
                let (admin, consequences) = try await tx.administrations.void(id: id, reason: b.reason, confirm: b.confirm ?? false)
                return try .json(WithKey(base: admin, key: "consequences", extra: consequences), etag: Self.etag(writtenBy: tx))
            }
        }

        routes.post("/patients/:id/void") { request, context in
            let id: PatientID = try id(context)
            return try await write(request, context, VoidBody.self, parameters: ["patient": "id"]) { b, tx, _ in
                try await checkIfMatch(request, record: .patient, id: id, name: "patient", in: tx)
                let (patient, consequences) = try await tx.patients.void(id: id, reason: b.reason, confirm: b.confirm ?? false)
                return try .json(WithKey(base: patient, key: "consequences", extra: consequences), etag: Self.etag(writtenBy: tx))
            }
        }

        routes.get("/status-changes/:id") { _, context in
            let id: StatusChangeID = try id(context)
            return try await read(context, parameters: ["status-change": "id"]) { tx, _ in
                let change = try await tx.statusChanges.change(id: id)
                return try .json(change, etag: try await etag(of: .statusChange, id: id, in: tx))
            }
        }

        routes.post("/status-changes/:id/void") { request, context in
            let id: StatusChangeID = try id(context)
            return try await write(request, context, VoidBody.self, parameters: ["status-change": "id"]) { b, tx, grant in
                try await checkIfMatch(request, record: .statusChange, id: id, name: "status-change", in: tx)
                let (change, consequences) = try await tx.statusChanges.void(id: id, reason: b.reason, confirm: b.confirm ?? false)
                return try .json(WithKey(base: change, key: "consequences", extra: consequences), etag: Self.etag(writtenBy: tx))
            }
        }

        routes.patch("/status-changes/:id") { request, context in
            let id: StatusChangeID = try id(context)
            return try await write(request, context, StatusChangeCorrectionBody.self, parameters: ["status-change": "id"]) { b, tx, grant in
                let correction = try StatusChangeCorrection(on: b.on, details: b.details, reason: b.reason, today: database.today())
                try await checkIfMatch(request, record: .statusChange, id: id, name: "status-change", in: tx)
                let (change, consequences) = try await tx.statusChanges.correct(id: id, correction, confirm: b.confirm ?? false)
                return try .json(WithKey(base: change, key: "consequences", extra: consequences), etag: Self.etag(writtenBy: tx))
            }
        }
    }
}
