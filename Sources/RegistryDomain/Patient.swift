/// Sex as recorded for registry analysis.
public enum Sex: String, Codable, CaseIterable, Sendable {
    case female, male, other, unknown

    /// Parses a sex or lists the allowed values.
    public static func parse(_ text: String, field: String = "sex") throws(RegistryError) -> Sex {
        guard let s = Sex(rawValue: text) else {
            throw .invalid(field, "'\(text)' is not allowed; allowed: female, male, other, unknown")
        }
        return s
    }
}

/// Where a patient stands in long-term follow-up.
public enum PatientStatus: String, Codable, CaseIterable, Sendable {
    case active, withdrawn, deceased
    case lostToFollowUp = "lost-to-follow-up"
}

/// A treated patient, known to the registry only by pseudonym.
public struct Patient: Codable, Equatable, Sendable {
    public var id: PatientID
    public var pseudonym: String
    public var institutionCode: String
    public var birthYear: Int
    public var sex: Sex
    public var consentOn: LocalDate
    public var consentVersion: String
    public var status: PatientStatus
    /// Set when the patient was voided as enrolled in error (a duplicate, the wrong site).
    public var void: VoidMark?

    public init(id: PatientID, pseudonym: String, institutionCode: String, birthYear: Int, sex: Sex, consentOn: LocalDate, consentVersion: String, status: PatientStatus,
                void: VoidMark? = nil) {
        self.id = id; self.pseudonym = pseudonym; self.institutionCode = institutionCode
        self.birthYear = birthYear; self.sex = sex; self.consentOn = consentOn
        self.consentVersion = consentVersion; self.status = status; self.void = void
    }
}

/// A patient as their institution knows them: the institution's code and its own local key, turned
/// into the pseudonym at once. The key itself is not kept, so it is never stored or logged.
public struct LocalPatientKey: Sendable, Equatable {
    public var institutionCode: String
    public var pseudonym: String

    /// Checks the institution code and the key (1-64 characters, no control characters), both,
    /// and derives the pseudonym.
    public init(institutionCode: String, localID: String, pseudonymizer: Pseudonymizer) throws(RegistryError) {
        var checks = FieldChecks()
        let code = checks.check { () throws(RegistryError) in try Rules.institutionCode(institutionCode) }
        let key = checks.check { () throws(RegistryError) in try Self.key(localID) }
        try checks.finish()
        self.institutionCode = code!
        self.pseudonym = pseudonymizer.pseudonym(institutionCode: code!, localID: key!)
    }

    /// The local key as the pseudonym is made from: trimmed, 1-64 characters, no control characters.
    static func key(_ localID: String) throws(RegistryError) -> String {
        let key = localID.trimmingCharactersInWhitespace()
        guard (1...64).contains(key.count), !key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid("local-id", "the institution's local patient key must be 1–64 characters without control characters")
        }
        return key
    }
}

/// A validated enrolment. The local key is consumed here to make the pseudonym and is not kept.
public struct NewPatient: Sendable, Equatable {
    public var institutionCode: String
    public var pseudonym: String
    public var birthYear: Int
    public var sex: Sex
    public var consentOn: LocalDate
    public var consentVersion: String

    /// Validates every field, refusing once with every field at fault, and derives the pseudonym.
    public init(institutionCode: String, localID: String, birthYear: Int, sex: String, consentOn: String,
                consentVersion: String, pseudonymizer: Pseudonymizer, today: LocalDate) throws(RegistryError) {
        var checks = FieldChecks()
        let local = checks.check { () throws(RegistryError) in
            try LocalPatientKey(institutionCode: institutionCode, localID: localID, pseudonymizer: pseudonymizer)
        }
        let year = checks.check { () throws(RegistryError) in try PatientRules.birthYear(birthYear, today: today) }
        let sex = checks.check { () throws(RegistryError) in try Sex.parse(sex) }
        let consent = checks.check { () throws(RegistryError) in try PatientRules.consentOn(consentOn, today: today) }
        let version = checks.check { () throws(RegistryError) in try PatientRules.consentVersion(consentVersion) }
        try checks.finish()
        self.institutionCode = local!.institutionCode
        self.birthYear = year!
        self.sex = sex!
        self.consentOn = consent!
        self.consentVersion = version!
        self.pseudonym = local!.pseudonym
    }
}

extension NewPatient {
    /// Only an active institution may enrol patients.
    public static func checkEnrolling(at institutionCode: String, status: InstitutionStatus) throws(RegistryError) {
        guard status == .active else {
            throw .conflict("institution", "institution \(institutionCode) is \(status.rawValue); only active institutions may enrol patients")
        }
    }

    /// Enrolling a local key already enrolled is the same patient again only with the same facts:
    /// different ones most likely mean a mistyped key, so the field that differs is named.
    public func checkSame(asEnrolled patient: Patient) throws(RegistryError) {
        if patient.birthYear != birthYear {
            throw .conflict("birth-year", "this local key is already enrolled as patient \(patient.id) with birth year \(patient.birthYear), not \(birthYear)",
                            hint: "check the local patient key; correct the existing record instead if it is wrong")
        }
        if patient.sex != sex {
            throw .conflict("sex", "this local key is already enrolled as patient \(patient.id) with sex \(patient.sex.rawValue), not \(sex.rawValue)",
                            hint: "check the local patient key")
        }
    }
}

/// The rules for a patient's own details, for enrolment and correction alike.
public enum PatientRules {
    public static func birthYear(_ year: Int, today: LocalDate) throws(RegistryError) -> Int {
        guard (1900...today.year).contains(year) else {
            throw .invalid("birth-year", "\(year) is out of range; allowed: 1900 to \(today.year)")
        }
        return year
    }

    public static func consentOn(_ text: String, today: LocalDate) throws(RegistryError) -> LocalDate {
        let date = try Rules.date(text, field: "consent-on")
        try Rules.eventDate(date, field: "consent-on", today: today)
        return date
    }

    public static func consentVersion(_ text: String) throws(RegistryError) -> String {
        let version = text.trimmingCharactersInWhitespace()
        guard (1...20).contains(version.count), version.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }) else {
            throw .invalid("consent-version", "'\(text)' is not a consent form version; expected 1–20 letters, digits, '.' or '-', e.g. 2 or 2.1")
        }
        return version
    }
}

/// A correction of a patient's own details: only the fields given change; a reason is required.
public struct PatientCorrection: Sendable, Equatable {
    public var birthYear: Int?
    public var sex: Sex?
    public var consentOn: LocalDate?
    public var consentVersion: String?
    public var reason: String

    /// Checks every field given, and that at least one is, refusing once with every field at fault.
    public init(birthYear: Int?, sex: String?, consentOn: String?, consentVersion: String?, reason: String?, today: LocalDate) throws(RegistryError) {
        var checks = FieldChecks()
        let reason = checks.check { () throws(RegistryError) in try Rules.reason(reason) }
        let year = birthYear.flatMap { y in checks.check { () throws(RegistryError) in try PatientRules.birthYear(y, today: today) } }
        let sexValue = sex.flatMap { s in checks.check { () throws(RegistryError) in try Sex.parse(s) } }
        let consent = consentOn.flatMap { d in checks.check { () throws(RegistryError) in try PatientRules.consentOn(d, today: today) } }
        let version = consentVersion.flatMap { v in checks.check { () throws(RegistryError) in try PatientRules.consentVersion(v) } }
        if birthYear == nil && sex == nil && consentOn == nil && consentVersion == nil {
            checks.refuse(.invalid("birth-year", "nothing to correct; give one or more of birth-year, sex, consent-on, consent-version"))
        }
        try checks.finish()
        self.reason = reason!
        self.birthYear = year
        self.sex = sexValue
        self.consentOn = consent
        self.consentVersion = version
    }

    /// Consent comes before treatment: a corrected consent date after the first dose is refused.
    public func check(firstAdministration: LocalDate?) throws(RegistryError) {
        if let consentOn, let first = firstAdministration, consentOn > first {
            throw .invalid("consent-on", "\(consentOn) is after the patient's first administration on \(first); consent comes before treatment")
        }
    }
}
