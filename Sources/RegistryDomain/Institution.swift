/// Whether a designated institution may treat and record.
public enum InstitutionStatus: String, Codable, CaseIterable, Sendable {
    case active, suspended, revoked
}

/// A hospital designated to give advanced regenerative treatments (112 at launch, 141 by May 2025).
public struct Institution: Codable, Equatable, Sendable {
    public var id: Int
    public var code: String
    public var name: String
    public var designationNumber: String
    public var designatedOn: LocalDate
    public var status: InstitutionStatus

    public init(id: Int, code: String, name: String, designationNumber: String, designatedOn: LocalDate, status: InstitutionStatus) {
        self.id = id; self.code = code; self.name = name
        self.designationNumber = designationNumber; self.designatedOn = designatedOn; self.status = status
    }
}

/// A validated request to designate an institution.
public struct NewInstitution: Sendable, Equatable {
    public var code: String
    public var name: String
    public var designationNumber: String
    public var designatedOn: LocalDate

    /// Validates every field, refusing once with every field at fault.
    public init(code: String, name: String, designationNumber: String, designatedOn: String, today: LocalDate) throws(RegistryError) {
        var checks = FieldChecks()
        let code = checks.check { () throws(RegistryError) in try Rules.institutionCode(code, field: "code") }
        let name = checks.check { () throws(RegistryError) in try Rules.name(name, field: "name") }
        let designation = checks.check { () throws(RegistryError) -> String in
            let designation = designationNumber.trimmingCharactersInWhitespace()
            guard (1...40).contains(designation.count),
                  designation.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "/") }) else {
                throw .invalid("designation", "'\(designationNumber)' is not a designation number; expected 1–40 letters, digits, '-' or '/', e.g. D-2025-001")
            }
            return designation
        }
        let designated = checks.check { () throws(RegistryError) -> LocalDate in
            let date = try Rules.date(designatedOn, field: "designated-on")
            try Rules.eventDate(date, field: "designated-on", today: today)
            return date
        }
        try checks.finish()
        self.code = code!
        self.name = name!
        self.designationNumber = designation!
        self.designatedOn = designated!
    }
}

/// A change of an institution's designation status, checked as a whole: every field at fault in one refusal.
public struct InstitutionStatusChange: Sendable, Equatable {
    public var status: InstitutionStatus
    public var reason: String

    public init(status: String, reason: String?) throws(RegistryError) {
        var checks = FieldChecks()
        let parsed = checks.check { () throws(RegistryError) -> InstitutionStatus in
            guard let s = InstitutionStatus(rawValue: status) else {
                throw .invalid("status", "'\(status)' is not an institution status; allowed: \(InstitutionStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return s
        }
        let why = checks.check { () throws(RegistryError) in try Rules.reason(reason) }
        try checks.finish()
        self.status = parsed!; self.reason = why!
    }
}
