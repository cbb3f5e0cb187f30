import ArgumentParser
import Foundation
import RegistryDomain
import RegistryStorage

struct VisitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "visit", abstract: "Follow-up visits and their measures.", subcommands: [Log.self, Correct.self, Void.self])

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Log a visit against a follow-up, or an unscheduled visit.", discussion: """
            A visit inside the follow-up's window completes it; one outside completes it and marks it
            early or late. Measures are KEY=VALUE or KEY=VALUE:UNIT, and a coded measure's answer by
            its code or value (disease-response=CR, crs-grade=2); `registry measure list` shows them.
            A screening visit (--screening, with --patient) comes before the first dose: on or after
            consent and at most \(VisitRules.screeningWindowDays) days before the dose, or before any dose is recorded; the
            latest one is the patient's baseline in the outcome report.

            Examples:
              registry visit log --followup 17 --on 2025-07-10 --contact examination --vital alive --measure ecog=1 --measure eq5d-index=0.81
              registry visit log --followup 18 --on 2025-04-29 --contact examination --vital alive --measure crs-grade=1 --measure icans-grade=0 --measure vcn=1.2:copies/cell --measure rcl-test=negative
              registry visit log --patient 42 --on 2025-03-25 --contact examination --vital alive --screening --measure ecog=1 --measure disease-response=PD
              registry visit log --patient 42 --on 2025-08-02 --contact phone --vital alive --unscheduled
            """)
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("followup"), help: "The follow-up this visit completes.") var followUp: String?
        @Option(help: "Patient id (with --unscheduled).") var patient: String?
        @Flag(help: "A visit outside the schedule.") var unscheduled = false
        @Flag(help: "A screening visit before the first dose (with --patient; at most \(VisitRules.screeningWindowDays) days before it).") var screening = false
        @Option(help: "Visit date, YYYY-MM-DD.") var on: String
        @Option(help: "examination, phone or questionnaire.") var contact: String
        @Option(help: "alive, dead or unknown.") var vital: String
        @Option(help: "A coded measure, KEY=VALUE[:UNIT]; repeat for more.") var measure: [String] = []
        @Option(help: "Optional note for the site (at most 500 characters, no identifiers, never exported).") var note: String?
        @Flag(name: .customLong("record-death"), help: "With --vital dead: record the patient's death on the visit's date as well.") var recordDeath = false

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                if followUp == nil ? !(unscheduled || screening) : unscheduled {
                    throw RegistryError.invalid("followup", "give --followup ID for a scheduled visit, or --patient ID with --unscheduled or --screening")
                }
                let visit = try await ctx.write { tx in
                    // The measures are checked against the catalogue as stored.
                    let catalogue = try await tx.measures.catalogue(covering: MeasureCatalogue.keys(of: measure))
                    let new = try NewVisit(on: on, contact: contact, vital: vital, measures: measure, catalogue: catalogue, note: note,
                                           recordDeath: recordDeath, screening: screening, today: ctx.today)
                    return try await tx.visits.log(followUpID: try followUp.map { f throws(RegistryError) in try Parse.id(f, field: "followup") },
                                                   patientID: try patient.map { p throws(RegistryError) in try Parse.id(p, field: "patient") },
                                                   new)
                }
                try ctx.emit(visit) {
                    "visit \(visit.id) logged" + (visit.timing.map { ", follow-up \(visit.followUpID!) completed (\($0.rawValue))" }
                                                  ?? (visit.screening ? " (screening, before the dose)" : " (unscheduled)"))
                        + (visit.contactDeviation.map { "; protocol deviation: \($0.actual.rawValue) where the time point plans \($0.planned.rawValue)" } ?? "")
                }
            }
        }
    }

    struct Correct: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Correct a visit's values; the reason and the earlier values stay in the audit trail.", discussion: """
            Example:
              registry visit correct 8 --on 2025-07-12 --measure ecog=2 --reason "transcription error in visit date"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Visit id.") var visit: String
        @Option(help: "Corrected visit date.") var on: String?
        @Option(help: "Corrected contact type.") var contact: String?
        @Option(help: "Corrected vital status.") var vital: String?
        @Option(help: "Corrected or added measure, KEY=VALUE[:UNIT].") var measure: [String] = []
        @Option(help: "Corrected note.") var note: String?
        @Option(help: "Why (required).") var reason: String?
        @Flag(help: "Apply what the correction also changes (a death recorded with the visit voided or re-dated), listed when it is refused without this.") var confirm = false

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let (result, consequences) = try await ctx.write { tx in
                    let catalogue = try await tx.measures.catalogue(covering: MeasureCatalogue.keys(of: measure))
                    let c = try VisitCorrection(on: on, contact: contact, vital: vital, measures: measure, catalogue: catalogue, note: note,
                                                reason: reason, today: ctx.today)
                    return try await tx.visits.correct(id: try Parse.id(visit, field: "visit"), on: c.on, contact: c.contact, vital: c.vital,
                                                       measures: c.measures, note: c.note, reason: c.reason, confirm: confirm) }
                try ctx.emit(result, consequences: consequences) { "visit \(result.id) corrected" }
            }
        }
    }
}

struct FollowUpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "followup", abstract: "One follow-up.", subcommands: [Close.self])

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a follow-up as not done, with the reason.", discussion: """
            Reasons: \(NotDoneReason.allCases.map(\.rawValue).joined(separator: ", ")).

            Example:
              registry followup close 17 --reason unreachable --note "three calls, no answer"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Follow-up id.") var followUp: String
        @Option(help: "Why it was not done.") var reason: String
        @Option(help: "Optional note (no identifiers).") var note: String?

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let closure = try NotDoneClosure(reason: reason, note: note)
                let f = try await ctx.write { tx in try await tx.followUps.closeNotDone(id: try Parse.id(followUp, field: "followup"), reason: closure.reason,
                                                          note: closure.note) }
                try ctx.emit(f) { "follow-up \(f.id) (\(f.label)) closed as not done" }
            }
        }
    }
}

struct AdverseEventCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ae", abstract: "Adverse events and their expedited reports.",
                                                    subcommands: [Report.self, Submit.self, Correct.self, Void.self])

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Report an adverse event.", discussion: """
            Grades: 1 mild, 2 moderate, 3 severe, 4 life-threatening, 5 death related to the event; the
            grading system and version are stored with the grade (default CTCAE-5.0). A serious event
            gets an expedited-report due date from the awareness date: 7 days for death or
            life-threatening, 15 otherwise (see `registry config list`). Grade 5 also records the death,
            which you confirm with --confirm (without it the report is refused, listing what would change).
            Categories: \(AdverseEventCategory.allCases.map(\.rawValue).joined(separator: ", ")).

            Example:
              registry ae report --patient 42 --onset 2025-06-01 --aware 2025-06-03 --term "Acute myeloid leukaemia" --category new-malignancy --grade 4 --grading CTCAE-5.0 --serious --related possible
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Patient id.") var patient: String
        @Option(help: "Onset date.") var onset: String
        @Option(help: "Date the site became aware.") var aware: String
        @Option(help: "Event term (e.g. MedDRA preferred term).") var term: String
        @Option(help: "MedDRA code, 8 digits.") var meddra: String?
        @Option(help: "Category.") var category: String
        @Option(help: "Grade 1–5.") var grade: Int
        @Option(help: "Grading system and version, SYSTEM-VERSION.") var grading: String = GradingSystem.ctcae5.description
        @Flag(help: "The event is serious.") var serious = false
        @Option(help: "Seriousness criteria, comma-separated: \(SeriousnessCriterion.allCases.map(\.rawValue).joined(separator: ", ")).") var criteria: String?
        @Option(help: "Relatedness: \(Relatedness.allCases.map(\.rawValue).joined(separator: ", ")).") var related: String?
        @Option(help: "Outcome: \(AdverseEventOutcome.allCases.map(\.rawValue).joined(separator: ", ")).") var outcome: String?
        @Option(name: .customLong("outcome-on"), help: "Outcome date.") var outcomeOn: String?
        @Flag(help: "A second, separate event with the same term and onset as one already recorded for the patient.") var distinct = false
        @Flag(help: "With grade 5: record the patient's death as well (listed when it is refused without this).") var confirm = false

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                var new = try NewAdverseEvent(onset: onset, aware: aware, term: term, meddra: meddra, category: category, grade: grade, grading: grading,
                                              serious: serious, criteria: criteria?.split(separator: ",").map(String.init) ?? [], related: related,
                                              outcome: outcome, outcomeOn: outcomeOn, today: ctx.today)
                new.markedDistinct = distinct
                let (ae, consequences) = try await ctx.write { tx in try await tx.adverseEvents.report(patientID: try Parse.id(patient, field: "patient"), new,
                                                                confirm: confirm) }
                try ctx.emit(ae, consequences: consequences) {
                    "adverse event \(ae.id) recorded (grade \(ae.grade), \(ae.gradingSystem) v\(ae.gradingVersion))"
                        + (ae.reportDueOn.map { "; expedited report due \($0)" } ?? "")
                }
            }
        }
    }

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that the expedited report was submitted; stops its clock.", discussion: """
            Example:
              registry ae submit 5 --on 2025-06-09
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Adverse event id.") var adverseEvent: String
        @Option(help: "Submission date.") var on: String

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let date = try Rules.date(on, field: "on")
                try Rules.eventDate(date, field: "on", today: ctx.today)
                let ae = try await ctx.write { tx in try await tx.adverseEvents.submitReport(adverseEventID: try Parse.id(adverseEvent, field: "adverse-event"), on: date) }
                try ctx.emit(ae) {
                    let late = ae.reportDueOn.map { date > $0 } ?? false
                    return "report of adverse event \(ae.id) submitted on \(date)" + (late ? " (late: due \(ae.reportDueOn!))" : "")
                }
            }
        }
    }

    struct Correct: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Correct an adverse event; the reason and earlier values stay in the audit trail.", discussion: """
            Example:
              registry ae correct 5 --grade 3 --reason "regraded after specialist review"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Adverse event id.") var adverseEvent: String
        @Option var onset: String?
        @Option var aware: String?
        @Option var term: String?
        @Option var meddra: String?
        @Option var category: String?
        @Option var grade: Int?
        @Option var grading: String?
        @Option(help: "true or false.") var serious: Bool?
        @Option var criteria: String?
        @Option var related: String?
        @Option var outcome: String?
        @Option(name: .customLong("outcome-on")) var outcomeOn: String?
        @Option(name: .customLong("submitted-on")) var submittedOn: String?
        @Option(help: "Why (required).") var reason: String?
        @Flag(help: "Apply what the correction also changes (a death recorded, voided or re-dated with a grade 5 event), listed when it is refused without this.") var confirm = false

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let c = try AdverseEventCorrection(onset: onset, aware: aware, term: term, meddra: meddra, category: category, grade: grade,
                                                   grading: grading, serious: serious, criteria: criteria?.split(separator: ",").map(String.init),
                                                   related: related, outcome: outcome, outcomeOn: outcomeOn, submittedOn: submittedOn,
                                                   reason: reason, today: ctx.today)
                let (ae, consequences) = try await ctx.write { tx in
                    try await tx.adverseEvents.correct(id: try Parse.id(adverseEvent, field: "adverse-event"), c, confirm: confirm)
                }
                try ctx.emit(ae, consequences: consequences) { "adverse event \(ae.id) corrected" }
            }
        }
    }
}

struct AdministrationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "administration", abstract: "Recorded administrations.", subcommands: [Correct.self, Void.self])

    struct Correct: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Correct an administration; a new date re-anchors the open follow-ups.", discussion: """
            Follow-ups not yet done get new due dates and windows from the corrected date; completed and
            closed ones stay attached to their time points. The audit trail records what moved.

            Example:
              registry administration correct 3 --on 2025-04-03 --reason "date entered from the order, not the infusion record"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Administration id.") var administration: String
        @Option(help: "Corrected date.") var on: String?
        @Option(help: "Corrected lot number.") var lot: String?
        @Option(help: "Corrected dose.") var dose: String?
        @Option(name: .customLong("fee-notified")) var feeNotified: Int?
        @Option(name: .customLong("fee-collected")) var feeCollected: Int?
        @Option(help: "Why (required).") var reason: String?

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let c = try AdministrationCorrection(on: on, lot: lot, dose: dose, feeNotified: feeNotified, feeCollected: feeCollected, reason: reason,
                                                     today: ctx.today)
                let result = try await ctx.write { tx in try await tx.administrations.correct(id: try Parse.id(administration, field: "administration"), on: c.on,
                    lot: c.lot, dose: c.dose, feeNotified: c.feeNotifiedKRW, feeCollected: c.feeCollectedKRW, reason: c.reason) }
                try ctx.emit(WithKey(base: result.administration, key: "follow_ups_moved", extra: result.moved)) {
                    "administration \(result.administration.id) corrected; \(result.moved) open follow-ups moved"
                }
            }
        }
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Registry settings (expedited-report clocks, the nightly job's jobs.* settings).", subcommands: [List.self, Set.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List settings.", discussion: "Example:\n  registry config list")
        @OptionGroup var global: GlobalOptions
        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let all = try await ctx.read { tx in try await tx.settings.all() }
                try ctx.emit(all) { table(["KEY", "VALUE"], all.sorted { $0.key < $1.key }.map { [$0.key, $0.value] }) }
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a setting (audited).", discussion: """
            Example:
              registry config set ae.report-days.other-serious 15 --reason "MFDS guidance 2026-03"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument var key: String
        @Argument var value: String
        @Option(help: "Why (required).") var reason: String?
        func run() async throws {
            try await CommandContext.run(global) { ctx in
                try await ctx.write { tx in try await tx.settings.set(key: key, value: value, reason: try Rules.reason(reason)) }
                try ctx.emit([key: value]) { "\(key) = \(value)" }
            }
        }
    }
}
