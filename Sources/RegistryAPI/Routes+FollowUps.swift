import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

struct NotDoneBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case reason, note }
    typealias CodingKeys = Field
    var reason: String
    var note: String?
}

struct SubmissionBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case on }
    typealias CodingKeys = Field
    var on: String
}

struct ProposalConfirmBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case on, reason }
    typealias CodingKeys = Field
    var on: String?
    var reason: String
}

struct ProposalRejectBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case reason }
    typealias CodingKeys = Field
    var reason: String
}

extension RegistryAPI {
    func addFollowUpRoutes(_ routes: RouterGroup<Context>) {
        routes.get("/follow-ups") { request, context in
            let q = try query(request, allowed: ["due_before", "status", "cursor", "limit"])
            let limit = try limit(q)
            let dueBefore = try date(q, "due_before") ?? LocalDate(year: 9999, month: 12, day: 31)!
            let status = try q["status"].map { s throws -> FollowUpStatus in
                guard let v = FollowUpStatus(rawValue: s) else {
                    throw Problem(.invalidParameter, detail: "'\(s)' is not a follow-up status; allowed: \(FollowUpStatus.allCases.map(\.rawValue).joined(separator: ", "))",
                                  errors: [.parameter("status", "not a follow-up status")])
                }
                return v
            }
            let after = try q["cursor"].map { c throws -> (due: LocalDate, id: Int) in try Cursor.dateAndID(c) }
            return try await read(context) { tx, grant in
                let list = try await tx.followUps.of(institutionCode: grant.institutionCode!, dueBefore: dueBefore, status: status, after: after, limit: limit + 1)
                return try .json(page(list, limit: limit) { [$0.due.description, "\($0.id)"] })
            }
        }

        routes.get("/follow-ups/:id") { _, context in
            let id: FollowUpID = try id(context)
            return try await read(context, parameters: ["followup": "id"]) { tx, _ in try .json(try await tx.followUps.followUp(id: id)) }
        }

        routes.post("/follow-ups/:id/visits") { request, context in
            let id: FollowUpID = try id(context)
            return try await write(request, context, VisitBody.self, parameters: ["followup": "id", "patient": "id"]) { b, tx, grant in
                let visit = try await tx.visits.log(followUpID: id, patientID: nil, try await b.validated(today: database.today(), in: tx))
                return try .json(visit, status: .created, location: "/visits/\(visit.id)", etag: Self.etag(writtenBy: tx))
            }
        }

        routes.post("/follow-ups/:id/not-done") { request, context in
            let id: FollowUpID = try id(context)
            return try await write(request, context, NotDoneBody.self, parameters: ["followup": "id", "patient": "id"]) { b, tx, grant in
                let closure = try NotDoneClosure(reason: b.reason, note: b.note)
                let f = try await tx.followUps.closeNotDone(id: id, reason: closure.reason, note: closure.note)
                return try .json(f)
            }
        }

        routes.get("/worklist") { request, context in
            let q = try query(request, allowed: ["days", "cursor", "limit"])
            let limit = try limit(q)
            let days = try q["days"].map { text throws -> Int in
                guard let d = Int(text), (1...365).contains(d) else {
                    throw Problem(.invalidParameter, detail: "days '\(text)' is out of range; allowed: 1 to 365", errors: [.parameter("days", "expected 1 to 365")])
                }
                return d
            } ?? DueSoon.horizonDays
            let after = try q["cursor"].map { c throws -> WorklistPosition in
                let parts = try Cursor.decode(c, parts: 3)
                guard let section = Int(parts[0]), let on = LocalDate(parts[1]), let id = Int(parts[2]) else { throw Cursor.invalid }
                return WorklistPosition(section: section, on: on, id: FollowUpID(rawValue: id))
            }
            return try await read(context) { tx, grant in
                let asOf = database.today()
                let entries = try await tx.followUps.worklist(institutionCode: grant.institutionCode!, asOf: asOf, days: days, after: after, limit: limit + 1)
                let shown = page(entries, limit: limit) { ["\($0.position.section)", $0.position.on.description, "\($0.position.id)"] }
                return try .json(WithKey(base: shown, key: "as_of", extra: asOf))
            }
        }

        routes.post("/adverse-events/:id/report-submission") { request, context in
            let id: AdverseEventID = try id(context)
            return try await write(request, context, SubmissionBody.self, parameters: ["adverse-event": "id", "patient": "id"]) { b, tx, grant in
                let date = try Rules.date(b.on, field: "on")
                try Rules.eventDate(date, field: "on", today: database.today())
                let ae = try await tx.adverseEvents.submitReport(adverseEventID: id, on: date)
                return try .json(ae, etag: Self.etag(writtenBy: tx))
            }
        }

        routes.get("/lost-proposals") { request, context in
            let q = try query(request, allowed: ["decision", "cursor", "limit"])
            let limit = try limit(q)
            let decision: ProposalDecision?
            switch q["decision"] ?? "pending" {
            case "all": decision = nil
            case let text:
                guard let d = ProposalDecision(rawValue: text) else {
                    throw Problem(.invalidParameter, detail: "'\(text)' is not a decision; allowed: pending, confirmed, rejected, all",
                                  errors: [.parameter("decision", "expected pending, confirmed, rejected or all")])
                }
                decision = d
            }
            let after = try q["cursor"].map { c throws -> (on: LocalDate, id: Int) in try Cursor.dateAndID(c) }
            return try await read(context) { tx, grant in
                let list = try await tx.lostProposals.list(institutionCode: grant.institutionCode, decision: decision, after: after, limit: limit + 1)
                return try .json(page(list, limit: limit) { [$0.proposedOn.description, "\($0.id)"] })
            }
        }

        routes.post("/lost-proposals/:id/confirmation") { request, context in
            let id: LostProposalID = try id(context)
            return try await write(request, context, ProposalConfirmBody.self, parameters: ["proposal": "id"]) { b, tx, grant in
                let date = try b.on.map { d throws(RegistryError) in try Rules.date(d, field: "on") } ?? database.today()
                return try .json(try await tx.lostProposals.confirm(id: id, on: date, reason: try Rules.reason(b.reason)))
            }
        }

        routes.post("/lost-proposals/:id/rejection") { request, context in
            let id: LostProposalID = try id(context)
            return try await write(request, context, ProposalRejectBody.self, parameters: ["proposal": "id"]) { b, tx, grant in
                try .json(try await tx.lostProposals.reject(id: id, reason: try Rules.reason(b.reason)))
            }
        }
    }
}
