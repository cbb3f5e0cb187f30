/// The review committee's risk class for a plan; high risk also needs the drug regulator's approval.
public enum RiskClass: String, Codable, CaseIterable, Sendable {
    case high, medium, low

    /// Parses a risk class or lists the allowed ones.
    public static func parse(_ text: String, field: String = "risk") throws(RegistryError) -> RiskClass {
        guard let r = RiskClass(rawValue: text) else {
            throw .invalid(field, "'\(text)' is not a risk class; allowed: high, medium, low")
        }
        return r
    }
}

/// The national review committee's decision on a treatment plan.
public enum PlanDecision: String, Codable, CaseIterable, Sendable {
    case pending, approved, rejected, withdrawn

    /// Parses a decision that can be recorded (not `pending`).
    public static func parseRecordable(_ text: String, field: String = "decision") throws(RegistryError) -> PlanDecision {
        guard let d = PlanDecision(rawValue: text), d != .pending else {
            throw .invalid(field, "'\(text)' is not a committee decision; allowed: approved, rejected, withdrawn")
        }
        return d
    }

    /// Which decisions may follow this one: a pending plan may get any decision, an approved
    /// plan may later be withdrawn; rejected and withdrawn plans are final.
    public func allows(_ next: PlanDecision) -> Bool {
        switch (self, next) {
        case (.pending, .approved), (.pending, .rejected), (.pending, .withdrawn), (.approved, .withdrawn): return true
        default: return false
        }
    }
}

/// A treatment plan: one institution, one product, one indication, approved by the committee.
public struct TreatmentPlan: Codable, Equatable, Sendable {
    public var id: PlanID
    public var institutionCode: String
    public var productCode: String
    public var indication: String
    public var riskClass: RiskClass
    public var decision: PlanDecision
    public var decidedOn: LocalDate?
    public var committeeReference: String?
    public var protocolCode: String
    public var protocolVersion: Int

    public init(id: PlanID, institutionCode: String, productCode: String, indication: String, riskClass: RiskClass,
                decision: PlanDecision, decidedOn: LocalDate?, committeeReference: String?, protocolCode: String, protocolVersion: Int) {
        self.id = id; self.institutionCode = institutionCode; self.productCode = productCode
        self.indication = indication; self.riskClass = riskClass; self.decision = decision
        self.decidedOn = decidedOn; self.committeeReference = committeeReference
        self.protocolCode = protocolCode; self.protocolVersion = protocolVersion
    }
}

/// A validated committee decision.
public struct PlanDecisionRecord: Sendable, Equatable {
    public var decision: PlanDecision
    public var on: LocalDate
    public var reference: String

    /// Validates the decision, its date and the committee reference (e.g. `RC-2025-014`), refusing
    /// once with every field at fault.
    public init(decision: String, on: String, reference: String, today: LocalDate) throws(RegistryError) {
        var checks = FieldChecks()
        let decision = checks.check { () throws(RegistryError) in try PlanDecision.parseRecordable(decision) }
        let date = checks.check { () throws(RegistryError) -> LocalDate in
            let date = try Rules.date(on, field: "on")
            try Rules.eventDate(date, field: "on", today: today)
            return date
        }
        let ref = checks.check { () throws(RegistryError) -> String in
            let ref = reference.trimmingCharactersInWhitespace()
            guard (1...40).contains(ref.count), ref.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "/") }) else {
                throw .invalid("reference", "'\(reference)' is not a committee reference; expected 1–40 letters, digits, '-' or '/', e.g. RC-2025-014")
            }
            return ref
        }
        try checks.finish()
        self.decision = decision!
        self.on = date!
        self.reference = ref!
    }
}

/// A plan as an administrator submits it, each field checked (refused once with every field at
/// fault) before storage looks up the institution, the product and the protocol.
public struct NewPlan: Sendable, Equatable {
    public var institutionCode: String
    public var productCode: String
    public var indication: String
    public var riskClass: RiskClass

    public init(institution: String, product: String, indication: String, risk: String) throws(RegistryError) {
        var checks = FieldChecks()
        let institution = checks.check { () throws(RegistryError) in try Rules.institutionCode(institution) }
        let product = checks.check { () throws(RegistryError) in try Rules.productCode(product) }
        let indication = checks.check { () throws(RegistryError) in try Rules.icd10(indication) }
        let risk = checks.check { () throws(RegistryError) in try RiskClass.parse(risk) }
        try checks.finish()
        self.institutionCode = institution!
        self.productCode = product!
        self.indication = indication!
        self.riskClass = risk!
    }
}

/// A change of a plan's risk class, checked as a whole: every field at fault in one refusal.
public struct PlanRiskChange: Sendable, Equatable {
    public var riskClass: RiskClass
    public var on: LocalDate
    public var reason: String

    public init(risk: String, on: String, reason: String?, today: LocalDate) throws(RegistryError) {
        var checks = FieldChecks()
        let riskClass = checks.check { () throws(RegistryError) in try RiskClass.parse(risk) }
        let date = checks.check { () throws(RegistryError) -> LocalDate in
            let date = try Rules.date(on, field: "on")
            try Rules.eventDate(date, field: "on", today: today)
            return date
        }
        let why = checks.check { () throws(RegistryError) in try Rules.reason(reason) }
        try checks.finish()
        self.riskClass = riskClass!; self.on = date!; self.reason = why!
    }
}
