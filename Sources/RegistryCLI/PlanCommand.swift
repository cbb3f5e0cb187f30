import ArgumentParser
import RegistryDomain

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Treatment plans and the review committee's decisions.",
        subcommands: [Add.self, Decide.self, Risk.self, List.self, Show.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Submit a treatment plan (pending until decided).", discussion: """
            The plan follows its product's standard protocol unless --protocol names another.

            Example:
              registry plan add --institution ARM-001 --product GT-01 --indication G20 --risk high
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Institution code.") var institution: String
        @Option(help: "Product code.") var product: String
        @Option(help: "ICD-10 code of the indication (e.g. G20, M17.0).") var indication: String
        @Option(help: "high, medium or low.") var risk: String
        @Option(name: .customLong("protocol"), help: "Follow-up protocol code (default: the product class's standard).") var protocolCode: String?

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let new = try NewPlan(institution: institution, product: product, indication: indication, risk: risk)
                let plan = try await ctx.write { tx in try await tx.plans.add(institutionCode: new.institutionCode, productCode: new.productCode,
                    indication: new.indication, risk: new.riskClass, protocolCode: protocolCode) }
                try ctx.emit(plan) { "plan \(plan.id) submitted (\(plan.institutionCode), \(plan.productCode), \(plan.indication)); pending the committee's decision" }
            }
        }
    }

    struct Decide: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record the committee's decision on a plan.", discussion: """
            Example:
              registry plan decide 12 --decision approved --on 2025-03-15 --reference RC-2025-014
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Plan id.") var plan: String
        @Option(help: "approved, rejected or withdrawn.") var decision: String
        @Option(help: "Date of the decision, YYYY-MM-DD.") var on: String
        @Option(help: "Committee reference (e.g. RC-2025-014).") var reference: String

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let record = try PlanDecisionRecord(decision: decision, on: on, reference: reference, today: ctx.today)
                let result = try await ctx.write { tx in try await tx.plans.decide(id: try Parse.id(plan, field: "plan"), record) }
                try ctx.emit(result) { "plan \(result.id) \(result.decision.rawValue) on \(record.on) (\(record.reference))" }
            }
        }
    }

    struct Risk: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a plan's risk class; the history is kept.", discussion: """
            Example:
              registry plan risk 12 --risk medium --on 2026-03-01 --reason "committee review of 2-year safety data"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Plan id.") var plan: String
        @Option(help: "high, medium or low.") var risk: String
        @Option(help: "Date of the change, YYYY-MM-DD.") var on: String
        @Option(help: "Why.") var reason: String

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let change = try PlanRiskChange(risk: risk, on: on, reason: reason, today: ctx.today)
                let result = try await ctx.write { tx in try await tx.plans.changeRisk(id: try Parse.id(plan, field: "plan"), to: change.riskClass,
                                                                on: change.on, reason: change.reason) }
                try ctx.emit(result) { "plan \(result.id) is now \(result.riskClass.rawValue) risk" }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List plans.", discussion: "Example:\n  registry plan list --institution ARM-001")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this institution's plans.") var institution: String?

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let all = try await ctx.read { tx in try await tx.plans.list(institutionCode: try ctx.institution(institution)) }
                try ctx.emit(all) {
                    table(["ID", "INSTITUTION", "PRODUCT", "INDICATION", "RISK", "DECISION", "ON", "REFERENCE", "PROTOCOL"],
                          all.map { ["\($0.id)", $0.institutionCode, $0.productCode, $0.indication, $0.riskClass.rawValue, $0.decision.rawValue,
                                     $0.decidedOn?.description ?? "-", $0.committeeReference ?? "-", "\($0.protocolCode) v\($0.protocolVersion)"] })
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a plan with its risk-class history.", discussion: "Example:\n  registry plan show 12")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Plan id.") var plan: String

        struct Shown: Encodable {
            var plan: TreatmentPlan
            var riskHistory: [Change]
            struct Change: Encodable { var riskClass: RiskClass; var on: LocalDate; var reason: String }
        }

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let id: PlanID = try Parse.id(plan, field: "plan")
                let p = try await ctx.read { tx in try await tx.plans.plan(id: id) }
                let history = try await ctx.read { tx in try await tx.plans.riskHistory(planID: id) }.map { Shown.Change(riskClass: $0.riskClass, on: $0.on, reason: $0.reason) }
                try ctx.emit(Shown(plan: p, riskHistory: history)) {
                    "plan \(p.id): \(p.institutionCode) \(p.productCode) \(p.indication), \(p.decision.rawValue), protocol \(p.protocolCode) v\(p.protocolVersion)\n"
                        + table(["RISK", "SINCE", "REASON"], history.map { [$0.riskClass.rawValue, $0.on.description, $0.reason] })
                }
            }
        }
    }
}
