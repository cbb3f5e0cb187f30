import ArgumentParser
import RegistryDomain

struct PatientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patient", abstract: "Treated patients, known only by pseudonym.",
        subcommands: [Enroll.self, Find.self, Show.self, Correct.self, Death.self, Withdraw.self, Lost.self, Found.self, Transfer.self, Void.self])

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enrol a patient (the same local key finds the same patient).", discussion: """
            The local patient key never leaves this command: the registry stores only its pseudonym
            (HMAC-SHA256 under the key in $REGISTRY_HOME/pseudonym.key or $REGISTRY_PSEUDONYM_KEY).

            Example:
              registry patient enroll --institution ARM-001 --local-id MRN-12345 --birth-year 1961 --sex female --consent-on 2025-03-20 --consent-version 2
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Enrolling institution's code (default: the acting institution).") var institution: String?
        @Option(name: .customLong("local-id"), help: "The institution's own patient key (not stored).") var localID: String
        @Option(name: .customLong("birth-year"), help: "Year of birth.") var birthYear: Int
        @Option(help: "female, male, other or unknown.") var sex: String
        @Option(name: .customLong("consent-on"), help: "Date of consent, YYYY-MM-DD.") var consentOn: String
        @Option(name: .customLong("consent-version"), help: "Version of the consent form (e.g. 2).") var consentVersion: String

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let new = try NewPatient(institutionCode: try ctx.requiredInstitution(institution), localID: localID, birthYear: birthYear, sex: sex,
                                         consentOn: consentOn, consentVersion: consentVersion, pseudonymizer: try ctx.pseudonymizer(), today: ctx.today)
                let (patient, created) = try await ctx.write { tx in try await tx.patients.enroll(new) }
                try ctx.emit(WithKey(base: patient, key: "created", extra: created)) {
                    created ? "patient \(patient.id) enrolled at \(patient.institutionCode)"
                            : "already enrolled: patient \(patient.id) at \(patient.institutionCode)"
                }
            }
        }
    }

    struct Find: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find a patient by the institution's own patient key, without enrolling.", discussion: """
            The key is turned into the pseudonym here, as at enrolment, and is neither stored nor
            logged. Prints the patient, or says the institution has none with this key, or that the
            patient enrolled with it was voided and the key can be enrolled again (exit 1).

            Example:
              registry patient find --institution ARM-001 --local-id MRN-12345
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "The institution that knows the patient by this key (default: the acting institution).") var institution: String?
        @Option(name: .customLong("local-id"), help: "The institution's own patient key (not stored).") var localID: String

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let key = try LocalPatientKey(institutionCode: try ctx.requiredInstitution(institution), localID: localID, pseudonymizer: try ctx.pseudonymizer())
                let p = try await ctx.read { tx in try await tx.patients.lookup(key) }
                try ctx.emit(p) {
                    "patient \(p.id) (\(p.pseudonym.prefix(12))…) at \(p.institutionCode): born \(p.birthYear), \(p.sex.rawValue), \(p.status.rawValue), consent v\(p.consentVersion) on \(p.consentOn)"
                }
            }
        }
    }

    struct Correct: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Correct a patient's birth year, sex, consent date or version; the reason and earlier values stay in the audit trail.", discussion: """
            Only the details given change. A consent date after the patient's first dose is refused.

            Example:
              registry patient correct 42 --birth-year 1962 --reason "transcription error, checked against the chart"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Patient id.") var patient: String
        @Option(name: .customLong("birth-year"), help: "Year of birth.") var birthYear: Int?
        @Option(help: "female, male, other or unknown.") var sex: String?
        @Option(name: .customLong("consent-on"), help: "Date of consent, YYYY-MM-DD.") var consentOn: String?
        @Option(name: .customLong("consent-version"), help: "Version of the consent form.") var consentVersion: String?
        @Option(help: "Why the details are corrected (kept in the audit trail).") var reason: String

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let id: PatientID = try Parse.id(patient, field: "patient")
                let correction = try PatientCorrection(birthYear: birthYear, sex: sex, consentOn: consentOn, consentVersion: consentVersion,
                                                       reason: reason, today: ctx.today)
                let p = try await ctx.write { tx in try await tx.patients.correct(id: id, correction) }
                try ctx.emit(p) {
                    "patient \(p.id) corrected: born \(p.birthYear), \(p.sex.rawValue), consent v\(p.consentVersion) on \(p.consentOn)"
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a patient with administrations and follow-ups.", discussion: "Example:\n  registry patient show 42")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Patient id.") var patient: String

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let id: PatientID = try Parse.id(patient, field: "patient")
                let record = try await ctx.read { tx in try await tx.patients.record(id: id) }
                let (p, admins, followUps, visits, events, changes)
                    = (record.patient, record.administrations, record.followUps, record.visits, record.adverseEvents, record.statusChanges)
                try ctx.emit(record) {
                    """
                    patient \(p.id) (\(p.pseudonym.prefix(12))…) at \(p.institutionCode): born \(p.birthYear), \(p.sex.rawValue), \(p.status.rawValue), consent v\(p.consentVersion) on \(p.consentOn)\(p.void.map { "\nVOIDED on \($0.voidedOn) as enrolled in error: \($0.reason)" } ?? "")
                    \(table(["ADMINISTRATION", "ON", "PRODUCT", "LOT", "DOSE"], admins.map { ["\($0.id)\($0.void == nil ? "" : " (voided)")", $0.administeredOn.description, $0.productCode, $0.lot, $0.dose] }))

                    \(followUpTable(followUps))

                    \(table(["VISIT", "ON", "CONTACT", "VITAL", "TIMING", "MEASURES"], visits.map { ["\($0.id)", $0.visitedOn.description, $0.contactType.rawValue, $0.vitalStatus.rawValue, $0.timing?.rawValue ?? "unscheduled", $0.measures.map { "\($0.key)=\($0.value)" }.joined(separator: " ")] }))

                    \(table(["AE", "ONSET", "TERM", "GRADE", "SERIOUS", "REPORT DUE", "SUBMITTED"], events.map { ["\($0.id)", $0.onsetOn.description, $0.term, "\($0.grade) (\($0.gradingSystem)-\($0.gradingVersion))", $0.serious ? "yes" : "no", $0.reportDueOn?.description ?? "-", $0.reportSubmittedOn?.description ?? "-"] }))

                    \(table(["STATUS CHANGE", "ON", "KIND", "REASON"], changes.map { ["\($0.id)", $0.effectiveOn.description, $0.kind.rawValue, $0.reason] }))
                    """
                }
            }
        }
    }
}

func followUpTable(_ followUps: [FollowUp]) -> String {
    table(["FOLLOW-UP", "PATIENT", "LABEL", "DUE", "WINDOW", "CONTACT", "STATE"],
          followUps.map { ["\($0.id)", "\($0.patientID)", $0.label, $0.due.description, "\($0.windowStart) – \($0.windowEnd)", $0.contactType.rawValue, $0.stateText] })
}

struct AdministerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "administer", abstract: "Record a dose and generate its follow-up schedule.", discussion: """
        The administration date anchors the schedule; month and year time points use calendar
        arithmetic in Asia/Seoul (31 Jan + 1 month = 28/29 Feb).

        Example:
          registry administer --patient 42 --plan 12 --on 2025-04-01 --lot LOT-7 --dose "2e6 cells/kg" --fee-notified 30000000 --fee-collected 30000000
        """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Patient id.") var patient: String
    @Option(help: "Approved plan id.") var plan: String
    @Option(help: "Date of administration, YYYY-MM-DD.") var on: String
    @Option(help: "Product lot number.") var lot: String
    @Option(help: "Dose as given (e.g. \"2e6 cells/kg\").") var dose: String
    @Option(name: .customLong("fee-notified"), help: "Fee notified to the patient, whole KRW.") var feeNotified: Int
    @Option(name: .customLong("fee-collected"), help: "Fee collected, whole KRW.") var feeCollected: Int

    func run() async throws {
        try await CommandContext.run(global, reach: .site) { ctx in
            let new = try NewAdministration(on: on, lot: lot, dose: dose, feeNotified: feeNotified, feeCollected: feeCollected, today: ctx.today)
            let (admin, followUps) = try await ctx.write { tx in try await tx.administrations.administer(patientID: try Parse.id(patient, field: "patient"),
                                                                    planID: try Parse.id(plan, field: "plan"), new) }
            try ctx.emit(WithKey(base: admin, key: "follow_ups", extra: followUps)) {
                "administration \(admin.id) recorded; \(followUps.count) follow-ups scheduled\n" + followUpTable(followUps)
            }
        }
    }
}

struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "trace", abstract: "Traceability: a lot's patients, or a patient's lots.", discussion: """
        Examples:
          registry trace --lot LOT-7
          registry trace --patient 42
        """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Product lot number.") var lot: String?
    @Option(help: "Patient id.") var patient: String?

    func run() async throws {
        try await CommandContext.run(global, reach: .site) { ctx in
            guard (lot == nil) != (patient == nil) else {
                throw RegistryError.invalid("lot", "give exactly one of --lot or --patient")
            }
            let admins = try await ctx.read { tx in try await tx.administrations.list(patientID: try patient.map { p throws(RegistryError) in try Parse.id(p, field: "patient") }, lot: lot) }
            try ctx.emit(admins) {
                table(["ADMINISTRATION", "PATIENT", "INSTITUTION", "PRODUCT", "LOT", "ON"],
                      admins.map { ["\($0.id)\($0.void == nil ? "" : " (voided)")", "\($0.patientID)", $0.institutionCode, $0.productCode, $0.lot, $0.administeredOn.description] })
            }
        }
    }
}

struct FollowUpsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "followups", abstract: "Follow-up schedules.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a patient's follow-ups, or an institution's due before a date.", discussion: """
            Examples:
              registry followups list --patient 42
              registry followups list --institution ARM-001 --due-before 2026-01-01 --status scheduled
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Patient id.") var patient: String?
        @Option(help: "Institution code (with --due-before; default: the acting institution).") var institution: String?
        @Option(name: .customLong("due-before"), help: "Only follow-ups due before this date, YYYY-MM-DD.") var dueBefore: String?
        @Option(help: "Only this status: scheduled, completed, not-done, not-required, missed.") var status: String?
        @Option(help: "At most this many rows (institution listing).") var limit: Int = 1000

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let statusFilter = try status.map { s throws(RegistryError) -> FollowUpStatus in
                    guard let v = FollowUpStatus(rawValue: s) else {
                        throw .invalid("status", "'\(s)' is not a follow-up status; allowed: \(FollowUpStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    return v
                }
                let list: [FollowUp]
                if let patient, institution == nil {
                    let id: PatientID = try Parse.id(patient, field: "patient")
                    list = try await ctx.read { tx in
                        _ = try await tx.patients.patient(id: id)  // another site's patient is not found, as over HTTP
                        return try await tx.followUps.of(patientID: id)
                    }.filter { statusFilter == nil || $0.status == statusFilter }
                } else if patient == nil, let institution = try ctx.institution(institution) {
                    guard let dueBefore else {
                        throw RegistryError.invalid("due-before", "listing an institution's follow-ups needs --due-before YYYY-MM-DD")
                    }
                    guard (1...100_000).contains(limit) else { throw RegistryError.invalid("limit", "\(limit) is out of range; allowed: 1 to 100000") }
                    list = try await ctx.read { tx in try await tx.followUps.of(institutionCode: institution,
                                                         dueBefore: try Rules.date(dueBefore, field: "due-before"), status: statusFilter, limit: limit) }
                } else {
                    throw RegistryError.invalid("patient", "give either --patient ID, or --institution CODE with --due-before DATE")
                }
                try ctx.emit(list) { followUpTable(list) }
            }
        }
    }
}
