import PostgresNIO
import RegistryDomain

/// Treatment plans, their committee decisions and risk classes.
public struct Plans: Repository {
    let tx: Transaction

    /// Submits a plan (pending the committee's decision), with its first risk class on record.
    public func add(institutionCode: String, productCode: String, indication: String, risk: RiskClass,
                    protocolCode: String? = nil) async throws -> TreatmentPlan {
        let institution = try await tx.institutions.idAndStatus(code: institutionCode)
        guard institution.status == .active else {
            throw RegistryError.conflict("institution", "institution \(institutionCode) is \(institution.status.rawValue); only active institutions may submit plans")
        }
        let product = try await tx.products.idAndClass(code: productCode)
        let code = protocolCode ?? FollowUpProtocol.standard(for: product.followUpClass).code
        let proto = try await tx.protocols.latest(code: code)
        guard proto.followUpClass == product.followUpClass else {
            throw RegistryError.invalid("protocol", "protocol \(code) is for \(proto.followUpClass.rawValue) products but \(productCode) is a \(product.followUpClass.rawValue) product")
        }
        let rows = try await c.query("""
            INSERT INTO treatment_plan (institution_id, product_id, protocol_id, indication, risk_class)
            VALUES (\(institution.id), \(product.id), \(proto.id), \(indication), \(risk)) RETURNING id
            """, logger: logger)
        let id = try await rows.decode(PlanID.self).one("the new plan")
        try await c.query("""
            INSERT INTO plan_risk_change (plan_id, risk_class, changed_on, reason)
            VALUES (\(id), \(risk), \(tx.today), 'initial risk class at submission')
            """, logger: logger)
        return try await plan(id: id)
    }

    /// Records the review committee's decision on a plan.
    public func decide(id: PlanID, _ record: PlanDecisionRecord) async throws -> TreatmentPlan {
        try await tx.because("committee decision \(record.reference)")
        let plan = try await plan(id: id, lock: true)
        guard plan.decision.allows(record.decision) else {
            throw RegistryError.conflict("decision", "plan \(id) is already \(plan.decision.rawValue); it cannot become \(record.decision.rawValue)",
                hint: plan.decision == .approved ? "an approved plan can only be withdrawn" : "rejected and withdrawn plans are final")
        }
        if let earlier = plan.decidedOn, record.on < earlier {
            throw RegistryError.invalid("on", "\(record.on) is before the plan's earlier decision on \(earlier)")
        }
        try await c.query("""
            UPDATE treatment_plan SET decision = \(record.decision), decided_on = \(record.on),
                   committee_reference = \(record.reference) WHERE id = \(id)
            """, logger: logger)
        return try await self.plan(id: id)
    }

    /// Changes a plan's risk class, keeping every earlier class in its history.
    public func changeRisk(id: PlanID, to risk: RiskClass, on: LocalDate, reason: String) async throws -> TreatmentPlan {
        try await tx.because(reason)
        let plan = try await plan(id: id, lock: true)
        guard plan.riskClass != risk else {
            throw RegistryError.conflict("risk", "plan \(id) is already \(risk.rawValue) risk")
        }
        try await c.query("INSERT INTO plan_risk_change (plan_id, risk_class, changed_on, reason) VALUES (\(id), \(risk), \(on), \(reason))", logger: logger)
        try await c.query("UPDATE treatment_plan SET risk_class = \(risk) WHERE id = \(id)", logger: logger)
        return try await self.plan(id: id)
    }

    /// A plan's risk classes, oldest first.
    public func riskHistory(planID: PlanID) async throws -> [(riskClass: RiskClass, on: LocalDate, reason: String)] {
        _ = try await plan(id: planID)
        var out: [(riskClass: RiskClass, on: LocalDate, reason: String)] = []
        for try await (risk, on, reason) in try await c.query(
            "SELECT risk_class, changed_on, reason FROM plan_risk_change WHERE plan_id = \(planID) ORDER BY id",
            logger: logger).decode((RiskClass, LocalDate, String).self) {
            out.append((risk, on, reason))
        }
        return out
    }

    /// Plans by id, optionally one institution's, after `after`, at most `limit`.
    public func list(institutionCode: String? = nil, after: Int? = nil, limit: Int = Int(Int32.max)) async throws -> [TreatmentPlan] {
        try await Self.decode(c.query("""
            \(unescaped: Self.select) WHERE (\(institutionCode)::text IS NULL OR i.code = \(institutionCode)) AND p.id > \(after ?? 0) AND \(unescaped: Self.visible)
            ORDER BY p.id LIMIT \(limit)
            """, logger: logger))
    }

    /// One plan (locked against concurrent decisions with `lock`).
    public func plan(id: PlanID, lock: Bool = false) async throws -> TreatmentPlan {
        let rows = try await c.query("\(unescaped: Self.select) WHERE p.id = \(id) AND \(unescaped: Self.visible) \(unescaped: lock ? "FOR UPDATE OF p" : "")", logger: logger)
        guard let plan = try await Self.decode(rows).first else {
            throw RegistryError.notFound("plan", "no plan has id \(id)", remedy: .list(.plans))
        }
        return plan
    }

    /// An institution acting (an API token, the command line's --as-institution) sees its own
    /// plans only and is not told others exist; the operator, admins and regulators see all.
    static let visible = "(registry_acting_institution() IS NULL OR p.institution_id = registry_acting_institution())"

    static let select = """
        SELECT p.id, i.code, pr.code, p.indication, p.risk_class, p.decision, p.decided_on, p.committee_reference, fp.code, fp.version
        FROM treatment_plan p JOIN institution i ON i.id = p.institution_id JOIN product pr ON pr.id = p.product_id
        JOIN follow_up_protocol fp ON fp.id = p.protocol_id
        """

    static func decode(_ rows: PostgresRowSequence) async throws -> [TreatmentPlan] {
        var out: [TreatmentPlan] = []
        for try await (id, inst, prod, indication, risk, decision, decidedOn, reference, protocolCode, protocolVersion)
            in rows.decode((PlanID, String, String, String, RiskClass, PlanDecision, LocalDate?, String?, String, Int32).self) {
            out.append(TreatmentPlan(id: id, institutionCode: inst, productCode: prod, indication: indication,
                                     riskClass: risk, decision: decision, decidedOn: decidedOn, committeeReference: reference,
                                     protocolCode: protocolCode, protocolVersion: Int(protocolVersion)))
        }
        return out
    }
}
