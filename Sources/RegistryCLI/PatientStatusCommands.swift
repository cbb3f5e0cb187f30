import ArgumentParser
import RegistryDomain
import RegistryStorage

/// The dated, audited status changes of a patient: one command each, sharing this shape.
struct StatusChangeOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions
    @Option(help: "Patient id.") var patient: String
    @Option(help: "Date it took effect, YYYY-MM-DD.") var on: String

    func run(_ kind: StatusChangeKind, reason: String?, transferTo: String? = nil) async throws {
        try await CommandContext.run(global, reach: .site) { ctx in
            // Every field checked first, each one at fault named in one refusal.
            let input = try NewStatusChange(kind: kind.rawValue, on: on, reason: reason, to: transferTo, today: ctx.today)
            let (date, why) = (input.on, input.reason)
            let change = try await ctx.write { tx in try await tx.statusChanges.change(kind, patientID: try Parse.id(patient, field: "patient"), on: date, reason: why,
                                                          transferTo: input.transferTo) }
            try ctx.emit(change) {
                let what: String
                switch kind {
                case .death, .withdrawal, .lost: what = "\(change.followUpsAffected) follow-ups no longer required"
                case .found: what = "\(change.followUpsAffected) follow-ups scheduled again"
                case .transfer: what = "\(change.followUpsAffected) open follow-ups moved to \(change.toInstitution ?? "?")"
                }
                return "patient \(change.patientID): \(kind.rawValue) on \(change.effectiveOn) recorded; \(what)"
            }
        }
    }
}

extension PatientCommand {
    struct Death: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a death; follow-ups due after it become not required.", discussion: """
            Example:
              registry patient death --patient 42 --on 2026-01-05 --cause "progressive disease"
            """)
        @OptionGroup var options: StatusChangeOptions
        @Option(help: "Cause of death (required).") var cause: String?
        func run() async throws { try await options.run(.death, reason: cause) }
    }

    struct Withdraw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record withdrawal of consent; data collected stays, future follow-ups stop.", discussion: """
            Example:
              registry patient withdraw --patient 42 --on 2026-02-01 --reason "patient request by letter"
            """)
        @OptionGroup var options: StatusChangeOptions
        @Option(help: "Why (required).") var reason: String?
        func run() async throws { try await options.run(.withdrawal, reason: reason) }
    }

    struct Lost: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark a patient lost to follow-up (reversible with `found`).", discussion: """
            Example:
              registry patient lost --patient 42 --on 2026-02-01 --reason "no contact after 3 letters and 5 calls"
            """)
        @OptionGroup var options: StatusChangeOptions
        @Option(help: "Why (required).") var reason: String?
        func run() async throws { try await options.run(.lost, reason: reason) }
    }

    struct Found: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that a lost patient was found; the schedule resumes.", discussion: """
            Example:
              registry patient found --patient 42 --on 2026-05-01 --reason "returned for routine clinic visit"
            """)
        @OptionGroup var options: StatusChangeOptions
        @Option(help: "Why (required).") var reason: String?
        func run() async throws { try await options.run(.found, reason: reason) }
    }

    struct Transfer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Transfer a patient to another active institution; open follow-ups move with them.", discussion: """
            Example:
              registry patient transfer --patient 42 --to ARM-002 --on 2026-03-01 --reason "moved to Busan"
            """)
        @OptionGroup var options: StatusChangeOptions
        @Option(help: "Receiving institution code.") var to: String
        @Option(help: "Why (required).") var reason: String?
        func run() async throws { try await options.run(.transfer, reason: reason, transferTo: to) }
    }
}
