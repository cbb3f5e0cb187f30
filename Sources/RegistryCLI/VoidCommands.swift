import ArgumentParser
import RegistryDomain
import RegistryStorage

/// What every void takes: the reason, and the confirmation of what else it changes.
struct VoidOptions: ParsableArguments {
    @Option(help: "Why the record was entered in error (required).") var reason: String?
    @Flag(help: "Apply what the change also does (a death taken back, follow-ups owed again), listed when it is refused without this.") var confirm = false
}

extension CommandContext {
    /// Prints a record that was voided or corrected, with what else changed: one line each.
    func emit<T: Encodable & Sendable>(_ value: T, consequences: [Consequence], human: () -> String) throws {
        try emit(WithKey(base: value, key: "consequences", extra: consequences)) {
            ([human()] + consequences.map { "  also: \($0.text)" }).joined(separator: "\n")
        }
    }
}

extension VisitCommand {
    struct Void: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Void a visit entered in error: kept and marked, left out of schedules and reports.", discussion: """
            The follow-up the visit completed is open again (overdue if its window has closed), and a
            death recorded with the visit is voided with it. Such consequences are listed and nothing is
            changed until you confirm them with --confirm.

            Example:
              registry visit void 8 --reason "logged for the wrong patient"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Visit id.") var visit: String
        @OptionGroup var void: VoidOptions

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let reason = try Rules.reason(void.reason)
                let (voided, consequences) = try await ctx.write { tx in
                    try await tx.visits.void(id: try Parse.id(visit, field: "visit"), reason: reason, confirm: void.confirm)
                }
                try ctx.emit(voided, consequences: consequences) { "visit \(voided.id) voided as entered in error" }
            }
        }
    }
}

extension AdverseEventCommand {
    struct Void: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Void an adverse event entered in error: kept and marked, its report clock stopped.", discussion: """
            A voided event is left out of worklists, late-report flags and reports. A death recorded
            from it (grade 5) is voided with it and the follow-ups the death made not required are owed
            again; such consequences are listed and nothing is changed until you confirm with --confirm.

            Example:
              registry ae void 12 --reason "duplicate of adverse event 11"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Adverse event id.") var adverseEvent: String
        @OptionGroup var void: VoidOptions

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let reason = try Rules.reason(void.reason)
                let (ae, consequences) = try await ctx.write { tx in
                    try await tx.adverseEvents.void(id: try Parse.id(adverseEvent, field: "adverse-event"), reason: reason, confirm: void.confirm)
                }
                try ctx.emit(ae, consequences: consequences) { "adverse event \(ae.id) voided as entered in error" }
            }
        }
    }
}

extension AdministrationCommand {
    struct Void: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Void an administration entered in error: kept and marked, its follow-ups withdrawn from the schedule.", discussion: """
            A dose recorded in error (the wrong patient, entered twice) is voided: the follow-ups it
            generated are no longer owed, overdue, on worklists or expected in reports, and the
            patient's first dose is their first standing one (or none). Refused while a standing visit
            completed one of those follow-ups (void the visit first), or while the patient's records
            need this dose as their first. The follow-ups withdrawn are listed and nothing is changed
            until you confirm with --confirm.

            Example:
              registry administration void 3 --reason "dose recorded for the wrong patient" --confirm
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Administration id.") var administration: String
        @OptionGroup var void: VoidOptions

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let reason = try Rules.reason(void.reason)
                let (admin, consequences) = try await ctx.write { tx in
                    try await tx.administrations.void(id: try Parse.id(administration, field: "administration"), reason: reason, confirm: void.confirm)
                }
                try ctx.emit(admin, consequences: consequences) { "administration \(admin.id) (\(admin.administeredOn), lot \(admin.lot)) voided as entered in error" }
            }
        }
    }
}

extension PatientCommand {
    struct Void: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Void a patient enrolled in error: kept and marked, left out of every listing and report.", discussion: """
            A patient enrolled twice or at the wrong site is voided once nothing recorded for them
            stands: void their visits and adverse events, then status changes (latest first), then
            administrations; the refusal lists what still stands. The institution's local key is then
            free: enrolling it again makes a new patient. A pending lost-to-follow-up proposal is
            withdrawn with the patient (listed, and applied with --confirm).

            Example:
              registry patient void 42 --reason "enrolled twice; the patient is 41"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Patient id.") var patient: String
        @OptionGroup var void: VoidOptions

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let reason = try Rules.reason(void.reason)
                let (p, consequences) = try await ctx.write { tx in
                    try await tx.patients.void(id: try Parse.id(patient, field: "patient"), reason: reason, confirm: void.confirm)
                }
                try ctx.emit(p, consequences: consequences) { "patient \(p.id) at \(p.institutionCode) voided as enrolled in error" }
            }
        }
    }
}

/// A patient's status changes (death, withdrawal, loss, found, transfer): voided or corrected.
struct StatusChangeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status-change", abstract: "Void or correct a patient's status change.",
                                                    subcommands: [Void.self, Correct.self])

    struct Void: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Void a status change entered in error; what it did is taken back.", discussion: """
            Only the patient's latest standing change can be voided (void later ones first). Voiding a
            death, withdrawal or loss makes the patient what they were before and brings back every
            follow-up it made not required; voiding a found makes the patient lost again; voiding a
            transfer sends the patient and what is still owed back. A death recorded from a grade 5
            event or at a visit is voided by correcting or voiding that record. The consequences are
            listed and nothing is changed until you confirm with --confirm.

            Example:
              registry status-change void 4 --reason "death entered for the wrong patient" --confirm
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Status change id (see registry patient show).") var statusChange: String
        @OptionGroup var void: VoidOptions

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let reason = try Rules.reason(void.reason)
                let (change, consequences) = try await ctx.write { tx in
                    try await tx.statusChanges.void(id: try Parse.id(statusChange, field: "status-change"), reason: reason, confirm: void.confirm)
                }
                try ctx.emit(change, consequences: consequences) { "status change \(change.id) (\(change.kind.rawValue) on \(change.effectiveOn)) voided as entered in error" }
            }
        }
    }

    struct Correct: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Correct a status change's date or wording (cause of death, reason).", discussion: """
            The date of the patient's latest standing change can be corrected: the change is checked
            on the new date as a new one would be, and what it did to follow-ups is redone from there
            (listed, and applied with --confirm). The wording of any standing change can be corrected.

            Example:
              registry status-change correct 4 --on 2026-03-02 --reason "date of death from the death certificate" --confirm
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Status change id.") var statusChange: String
        @Option(help: "Corrected date, YYYY-MM-DD.") var on: String?
        @Option(help: "Corrected cause of death or reason, as recorded.") var details: String?
        @Option(help: "Why (required).") var reason: String?
        @Flag(help: "Apply what the correction also changes (follow-ups owed or not required), listed when it is refused without this.") var confirm = false

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let correction = try StatusChangeCorrection(on: on, details: details, reason: reason, today: ctx.today)
                let (change, consequences) = try await ctx.write { tx in
                    try await tx.statusChanges.correct(id: try Parse.id(statusChange, field: "status-change"), correction, confirm: confirm)
                }
                try ctx.emit(change, consequences: consequences) { "status change \(change.id) corrected (\(change.kind.rawValue) on \(change.effectiveOn))" }
            }
        }
    }
}
