import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

struct InstitutionBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case code, name, designation, designatedOn = "designated_on" }
    typealias CodingKeys = Field
    var code: String
    var name: String
    var designation: String
    var designatedOn: String
}

struct InstitutionStatusBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case status, reason }
    typealias CodingKeys = Field
    var status: String
    var reason: String
}

struct ProductBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case code, name, manufacturer, modality }
    typealias CodingKeys = Field
    var code: String
    var name: String
    var manufacturer: String
    var modality: String
}

struct PlanBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case institution, product, indication, risk, `protocol` }
    typealias CodingKeys = Field
    var institution: String
    var product: String
    var indication: String
    var risk: String
    var `protocol`: String?
}

struct PlanDecisionBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case decision, on, reference }
    typealias CodingKeys = Field
    var decision: String
    var on: String
    var reference: String
}

struct RiskChangeBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case risk, on, reason }
    typealias CodingKeys = Field
    var risk: String
    var on: String
    var reason: String
}

/// One time point of a new protocol, as `GET /protocols` prints it.
struct TimePointBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable {
        case label, offsetAmount = "offset_amount", offsetUnit = "offset_unit", windowBefore = "window_before", windowAfter = "window_after",
             contactType = "contact_type"
    }
    typealias CodingKeys = Field
    var label: String
    var offsetAmount: Int
    var offsetUnit: String
    var windowBefore: Int
    var windowAfter: Int
    var contactType: String
}

struct ProtocolBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case code, followUpClass = "follow_up_class", timePoints = "time_points", reason }
    typealias CodingKeys = Field
    static var nested: [String: any JSONBody.Type] { ["time_points": TimePointBody.self] }
    var code: String
    var followUpClass: String
    var timePoints: [TimePointBody]
    var reason: String?

    func validated() throws(RegistryError) -> NewFollowUpProtocol {
        try NewFollowUpProtocol(code: code, followUpClass: followUpClass, timePoints: timePoints.map {
            .init(label: $0.label, offsetAmount: $0.offsetAmount, offsetUnit: $0.offsetUnit, windowBefore: $0.windowBefore,
                  windowAfter: $0.windowAfter, contactType: $0.contactType)
        })
    }
}

/// One answer of a new coded measure, as `GET /measures` prints it.
struct MeasureAnswerBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case value, code, display, displayKo = "display_ko" }
    typealias CodingKeys = Field
    var value: Int
    var code: String
    var display: String
    var displayKo: String
}

/// A new measure, as `GET /measures` prints it, with the reason for adding it.
struct MeasureDefinitionBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable {
        case key, codeSystem = "code_system", code, display, displayKo = "display_ko", unit, minimum, maximum, integer, answers, reason
    }
    typealias CodingKeys = Field
    static var nested: [String: any JSONBody.Type] { ["answers": MeasureAnswerBody.self] }
    static var pointers: [String: String] { ["min": "/minimum", "max": "/maximum"] }
    var key: String
    var codeSystem: String
    var code: String
    var display: String
    var displayKo: String
    var unit: String?
    var minimum: Double
    var maximum: Double
    var integer: Bool?
    var answers: [MeasureAnswerBody]?
    var reason: String

    func validated() throws(RegistryError) -> NewMeasureDefinition {
        try NewMeasureDefinition(key: key, codeSystem: codeSystem, code: code, display: display, displayKo: displayKo, unit: unit,
                                 minimum: minimum, maximum: maximum, integer: integer ?? false,
                                 answers: (answers ?? []).map { .init(value: $0.value, code: $0.code, display: $0.display, displayKo: $0.displayKo) })
    }
}

/// A plan's risk class at one time.
struct RiskChange: Encodable, Sendable {
    var riskClass: RiskClass
    var on: LocalDate
    var reason: String
}

extension RegistryAPI {
    /// Reference data every role may read.
    func addReferenceRoutes(_ routes: RouterGroup<Context>) {
        routes.get("/institutions") { _, context in
            try await read(context) { tx, _ in try .json(Page(items: try await tx.institutions.all(), nextCursor: nil)) }
        }
        routes.get("/products") { _, context in
            try await read(context) { tx, _ in try .json(Page(items: try await tx.products.all(), nextCursor: nil)) }
        }
        routes.get("/protocols") { _, context in
            try await read(context) { tx, _ in
                let all = try await tx.protocols.all().sorted { $0.key < $1.key }
                return try .json(Page(items: all.map { StoredProtocol(id: $0.key, $0.value) }, nextCursor: nil))
            }
        }
        routes.get("/measures") { _, context in
            try await read(context) { tx, _ in try .json(Page(items: try await tx.measures.catalogue().definitions, nextCursor: nil)) }
        }
    }

    /// Plans: an institution reads its own, an admin all of them.
    func addPlanReadRoutes(_ routes: RouterGroup<Context>) {
        routes.get("/plans") { request, context in
            let q = try query(request, allowed: ["institution", "cursor", "limit"])
            let limit = try limit(q)
            let after = try q["cursor"].map(Cursor.id)
            let grant = try context.requireGrant()
            if grant.role == .institution, let asked = q["institution"], asked != grant.institutionCode {
                throw Problem(.forbidden, detail: "an institution token lists only its own institution's plans",
                              errors: [.parameter("institution", "must be \(grant.institutionCode ?? "") or left out")])
            }
            let code = grant.role == .institution ? grant.institutionCode : q["institution"]
            return try await read(context) { tx, _ in
                try .json(page(try await tx.plans.list(institutionCode: code, after: after, limit: limit + 1), limit: limit) { ["\($0.id)"] })
            }
        }

        routes.get("/plans/:id") { _, context in
            let id: PlanID = try id(context)
            // Institutions see their own plans only, and are not told others exist (Plans.visible).
            return try await read(context, parameters: ["plan": "id"]) { tx, _ in try .json(try await tx.plans.plan(id: id)) }
        }
    }

    /// The registry operator's: institutions, products, plans and their decisions.
    func addAdminRoutes(_ routes: RouterGroup<Context>) {
        routes.post("/institutions") { request, context in
            try await write(request, context, InstitutionBody.self) { b, tx, grant in
                let new = try NewInstitution(code: b.code, name: b.name, designationNumber: b.designation, designatedOn: b.designatedOn, today: database.today())
                let inst = try await tx.institutions.add(new)
                return try .json(inst, status: .created, location: "/institutions/\(inst.code)")
            }
        }

        routes.post("/institutions/:code/status") { request, context in
            let code = context.parameters.get("code") ?? ""
            return try await write(request, context, InstitutionStatusBody.self, parameters: ["institution": "code"]) { b, tx, grant in
                let change = try InstitutionStatusChange(status: b.status, reason: b.reason)
                return try .json(try await tx.institutions.setStatus(code: try Rules.institutionCode(code), status: change.status, reason: change.reason))
            }
        }

        routes.post("/products") { request, context in
            try await write(request, context, ProductBody.self) { b, tx, grant in
                let product = try await tx.products.add(try NewProduct(code: b.code, name: b.name, manufacturer: b.manufacturer, modality: b.modality))
                return try .json(product, status: .created)
            }
        }

        routes.post("/protocols") { request, context in
            try await write(request, context, ProtocolBody.self) { b, tx, grant in
                let new = try b.validated()
                let stored = try await tx.protocols.add(new, reason: try b.reason.map { r throws(RegistryError) in try Rules.reason(r) })
                return try .json(stored, status: .created)
            }
        }

        routes.post("/measures") { request, context in
            try await write(request, context, MeasureDefinitionBody.self) { b, tx, grant in
                let reason = try Rules.reason(b.reason)
                return try .json(try await tx.measures.add(try b.validated(), reason: reason), status: .created)
            }
        }

        routes.post("/plans") { request, context in
            try await write(request, context, PlanBody.self) { b, tx, grant in
                let new = try NewPlan(institution: b.institution, product: b.product, indication: b.indication, risk: b.risk)
                let plan = try await tx.plans.add(institutionCode: new.institutionCode, productCode: new.productCode, indication: new.indication,
                                                   risk: new.riskClass, protocolCode: b.protocol)
                return try .json(plan, status: .created, location: "/plans/\(plan.id)")
            }
        }

        routes.post("/plans/:id/decision") { request, context in
            let id: PlanID = try id(context)
            return try await write(request, context, PlanDecisionBody.self, parameters: ["plan": "id"]) { b, tx, grant in
                let record = try PlanDecisionRecord(decision: b.decision, on: b.on, reference: b.reference, today: database.today())
                return try .json(try await tx.plans.decide(id: id, record))
            }
        }

        routes.post("/plans/:id/risk-changes") { request, context in
            let id: PlanID = try id(context)
            return try await write(request, context, RiskChangeBody.self, parameters: ["plan": "id"]) { b, tx, grant in
                let change = try PlanRiskChange(risk: b.risk, on: b.on, reason: b.reason, today: database.today())
                return try .json(try await tx.plans.changeRisk(id: id, to: change.riskClass, on: change.on, reason: change.reason), status: .created)
            }
        }

        routes.get("/plans/:id/risk-changes") { _, context in
            let id: PlanID = try id(context)
            return try await read(context, parameters: ["plan": "id"]) { tx, _ in
                try .json(Page(items: try await tx.plans.riskHistory(planID: id).map { RiskChange(riskClass: $0.riskClass, on: $0.on, reason: $0.reason) },
                               nextCursor: nil))
            }
        }
    }

    /// Regulators: registry-wide aggregates with small counts suppressed; never patient rows.
    func addRegulatorRoutes(_ routes: RouterGroup<Context>) {
        routes.get("/aggregates/summary") { request, context in
            let q = try query(request, allowed: ["min_cell"])
            let minCell = try q["min_cell"].map { text throws -> Int in
                guard let n = Int(text), n >= configuration.minCell, n <= 1000 else {
                    throw Problem(.invalidParameter, detail: "min_cell '\(text)' is not allowed; give \(configuration.minCell) (the registry's minimum) to 1000",
                                  errors: [.parameter("min_cell", "expected \(configuration.minCell) to 1000")])
                }
                return n
            } ?? configuration.minCell
            return try await read(context) { tx, _ in
                let asOf = database.today()
                let rows = try await tx.summaries.byInstitution(minCell: minCell, on: asOf)
                struct Summary: Encodable, Sendable { var asOf: LocalDate; var minCell: Int; var institutions: [InstitutionSummary] }
                return try .json(Summary(asOf: asOf, minCell: minCell, institutions: rows))
            }
        }
    }
}
