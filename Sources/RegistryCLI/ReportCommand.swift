import ArgumentParser
import Foundation
import RegistryDomain
import RegistryReports
import RegistryStorage

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Aggregate reports for regulators; every pull is recorded with who, purpose and parameters.",
        subcommands: [Outcomes.self, TrendCommand.self, SafetyListingCommand.self])

    struct Outcomes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Outcome report: survival, safety, completeness, outcome measures, fees.", discussion: """
            For the total and each group of --by (their cross, each dimension alone, and the total): patients, administrations, person-years; follow-up completeness (CIBMTR) overall and by time point, overdue now, lost, withdrawn; deaths and Kaplan–Meier overall survival at 1, 2 and 5 years with 95 % log-log intervals; adverse events by grade and category, serious, late expedited reports, incidence of the delayed events of special interest; change from baseline of outcome measures; fees notified and collected (median and IQR, KRW).

            Patients are counted in the group of their first administration on or before --as-of. Every count is published by cell-key perturbation (within 2 of the truth; the same records give the same value in every table and pull, so differencing pulls recovers nothing), then values from 1 to K-1 (--min-cell, default 11) are withheld, and so is every figure derived from them (docs/disclosure.md). --role regulator shows what the regulators' API (GET /reports/outcomes) serves (K never below 5, nor below the server's --min-cell); only the admin role may add --no-perturbation (classic complementary suppression) or --no-suppression (exact figures), which the audit trail records. The same data and parameters give a byte-identical JSON report; its checksum is in every format.

            A report is defined by --as-of (what was true) and --recorded-by (what the registry knew: later entries, corrections and voids are read as the audit trail says they stood then); its header states both. --quarter sets both (as of the quarter's last day, recorded by --lag-days after it); a quarter whose data lock is still to come is marked provisional. --cut N pulls pull N's cut again: the same bytes, whatever was entered, corrected or voided since. The report goes to stdout unless --out is given (the summary then goes to stderr).

            Example:
              registry report outcomes --purpose "MFDS quarterly safety review" --as-of 2026-09-30 --by product,year --format html --lang ko --out outcomes.html
              registry report outcomes --purpose "committee question 2026-14" --product CART-19 --by institution --format csv
              registry report outcomes --purpose "MFDS Q3 2026" --quarter 2026Q3 --by product --format json --out q3.json
              registry report outcomes --purpose "re-check of pull 41" --cut 41 --format json
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Why the report is pulled; recorded in the audit trail (required).") var purpose: String
        @Option(name: .customLong("as-of"), help: "What was true: events dated after it are left out, YYYY-MM-DD (default: today in Seoul).") var asOf: String?
        @Option(name: .customLong("recorded-by"), help: "What the registry knew: changes recorded after this time are left out (a date: the end of that day in Seoul; or ISO 8601 with offset). Default: everything recorded so far.") var recordedBy: String?
        @Option(help: "A quarter's cut, YYYYQn: as of its last day, recorded by --lag-days after it. Later pulls of the quarter give the same bytes.") var quarter: String?
        @Option(name: .customLong("lag-days"), help: "With --quarter: days from the quarter's end to its data lock (default \(DataCut.defaultLagDays)).") var lagDays: Int?
        @Option(help: "Pull again exactly the cut of an earlier pull (its number): same parameters, same data, same bytes, whatever was entered, corrected or voided since.") var cut: Int?
        @Option(help: "Only patients first treated with this product (code).") var product: String?
        @Option(help: "Only patients first treated for this indication (ICD-10).") var indication: String?
        @Option(help: "Only patients first treated at this institution (code).") var institution: String?
        @Option(help: "Break down by any of product,indication,institution,year,quarter (comma-separated; quarter: of the first treatment, e.g. 2025Q3).") var by: String?
        @Option(name: .customLong("min-cell"), help: "K: counts from 1 to K-1 are suppressed (admin 2-1000, regulator 5-1000).") var minCell: Int = ReportParameters.defaultMinimumCell
        @Option(help: "Whose view: admin (default, the command line) or regulator.") var role: String = ReportRole.admin.rawValue
        @Flag(name: .customLong("no-suppression"), help: "Admin only: show small cells. Recorded in the audit trail; not for publication.") var noSuppression = false
        @Flag(name: .customLong("no-perturbation"), help: "Admin only: publish true counts with classic complementary suppression instead of cell-key perturbation. Recorded in the audit trail.") var noPerturbation = false
        @Option(help: "json, csv or html.") var format: String
        @Option(help: "The HTML page's language: ko or en (the figures, JSON and CSV are the same in both).") var lang: String = ReportLanguage.en.rawValue
        @Option(help: "Write to this file (created or replaced, mode 0600) instead of stdout.") var out: String?

        struct Pulled: Encodable {
            var pull: Int
            var out: String
            var format: String
            var checksum: String
            var asOf: String
            var recordedBy: String
            var provisional: Bool
            var cutOf: Int?
            var groups: Int
            var patients: String
            var suppressedCells: Int
        }

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                guard ["json", "csv", "html"].contains(format) else {
                    throw RegistryError.invalid("format", "'\(format)' is not a report format; allowed: json, csv, html")
                }
                guard let language = ReportLanguage(rawValue: lang) else {
                    throw RegistryError.invalid("lang", "'\(lang)' is not a report language; allowed: ko, en")
                }
                let role = try ReportRole.parse(role)
                var parameters: ReportParameters
                if let cut {
                    let given = [("as-of", asOf != nil), ("product", product != nil), ("indication", indication != nil), ("institution", institution != nil),
                                 ("by", by != nil), ("min-cell", minCell != ReportParameters.defaultMinimumCell), ("no-suppression", noSuppression), ("no-perturbation", noPerturbation),
                                 ("recorded-by", recordedBy != nil), ("quarter", quarter != nil), ("lag-days", lagDays != nil)].filter(\.1).map(\.0)
                    if let first = given.first {
                        throw RegistryError.invalid(first, "a cut repeats its pull's parameters; leave out --\(given.joined(separator: ", --"))")
                    }
                    parameters = try await OutcomeReport.cut(database: ctx.database, pull: cut, purpose: purpose)
                } else {
                    parameters = ReportParameters(
                        purpose: purpose, asOf: try asOf.map { t throws(RegistryError) in try Rules.date(t, field: "as-of") } ?? ctx.today,
                        product: product, indication: indication, institution: institution,
                        by: try by.map { t throws(RegistryError) in try ReportDimension.parseList(t) } ?? [],
                        minimumCell: minCell, suppression: !noSuppression)
                    parameters.perturbation = !noPerturbation
                    try parameters.setCut(quarter: quarter, lagDays: lagDays, recordedBy: recordedBy, asOfGiven: asOf != nil)
                }
                let report = try await OutcomeReport.build(database: ctx.database, parameters: parameters, actor: ctx.actor, role: role, today: ctx.today)
                let data: Data
                switch format {
                case "json": data = report.json()
                case "csv": data = report.csv()
                default: data = report.html(language: language)
                }
                let c = report.content
                let summary = Pulled(pull: report.pullID, out: out ?? "-", format: format, checksum: "sha256:\(report.checksum)",
                                     asOf: c.parameters.asOf.description, recordedBy: c.recordedBy, provisional: c.provisional, cutOf: cut,
                                     groups: c.groups.count, patients: c.total.patients.text,
                                     suppressedCells: c.primarySuppressed + c.complementarySuppressed)
                try ReportCommand.deliver(data, to: out, ctx, global, summary: summary,
                                          "outcome report as of \(c.parameters.asOf), recorded by \(c.recordedBy)\(c.provisional ? " (provisional)" : "")\(cut.map { ", the cut of pull \($0)" } ?? "") (\(c.total.patients.text) patients, \(c.groups.count) groups, "
                                          + "\(summary.suppressedCells) cells suppressed) written as \(format) to \(out ?? "stdout"); pull \(report.pullID) recorded, checksum sha256:\(report.checksum)")
            }
        }
    }

    /// Writes a pulled report to `out` (created or replaced, mode 0600) or stdout, then its summary:
    /// on stderr when the report went to stdout, else as the command's output (`--json` or `line`).
    static func deliver<Summary: Encodable>(_ data: Data, to out: String?, _ ctx: CommandContext, _ global: GlobalOptions,
                                             summary: Summary, _ line: String) throws {
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: data, attributes: [.posixPermissions: 0o600]) else {
                throw RegistryError.invalid("out", "cannot write to \(out)")
            }
            try ctx.emit(summary) { line }
        } else {
            FileHandle.standardOutput.write(data)
            Output.printError(global.json ? String(decoding: try Output.encoder().encode(summary), as: UTF8.self) : line)
        }
    }

    struct TrendCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "trend", abstract: "The outcome report's headline figures quarter by quarter, each quarter's report pulled and recorded.",
            discussion: """
            For each quarter from --from to --to: the outcome report as of the quarter's last day (patients, person-years, deaths, follow-up completeness and overdue, survival at 1 year, adverse events, serious and late, incidence of the events of special interest), pulled as `registry report outcomes --quarter` would and recorded like it, so each point can be pulled again with --cut. Without --lag-days each point reads everything recorded so far (history as the registry now knows it); with --lag-days N each reads what was recorded by its data lock N days after the quarter, and a quarter whose lock has passed never changes. Counts are perturbed and small ones withheld as in the report. The last quarter must have ended.

            Example:
              registry report trend --purpose "MFDS annual review 2026" --from 2025Q1 --to 2026Q3 --format csv
              registry report trend --purpose "as submitted each quarter" --from 2025Q1 --to 2026Q3 --lag-days 60 --product CART-19 --format json --out trend.json
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Why the trend is pulled; recorded in the audit trail with each quarter's pull (required).") var purpose: String
        @Option(help: "The first quarter, YYYYQn.") var from: String
        @Option(help: "The last quarter, YYYYQn (it must have ended).") var to: String
        @Option(name: .customLong("lag-days"), help: "Read each quarter as recorded by this many days after it (its data lock); default: as recorded now.") var lagDays: Int?
        @Option(help: "Only patients first treated with this product (code).") var product: String?
        @Option(help: "Only patients first treated for this indication (ICD-10).") var indication: String?
        @Option(help: "Only patients first treated at this institution (code).") var institution: String?
        @Option(name: .customLong("min-cell"), help: "K: published values from 1 to K-1 are withheld (admin 2-1000, regulator 5-1000).") var minCell: Int = ReportParameters.defaultMinimumCell
        @Option(help: "Whose view: admin (default, the command line) or regulator.") var role: String = ReportRole.admin.rawValue
        @Option(help: "csv or json.") var format: String = "csv"
        @Option(help: "Write to this file (created or replaced, mode 0600) instead of stdout.") var out: String?

        struct Pulled: Encodable {
            var pulls: [Int]
            var out: String
            var format: String
            var checksum: String
            var quarters: Int
        }

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                guard ["json", "csv"].contains(format) else {
                    throw RegistryError.invalid("format", "'\(format)' is not a trend format; allowed: csv, json")
                }
                let role = try ReportRole.parse(role)
                let parameters = ReportParameters(purpose: purpose, asOf: ctx.today, product: product, indication: indication, institution: institution,
                                                  minimumCell: minCell)
                let trend = try await OutcomeTrend.build(database: ctx.database, parameters: parameters, from: from, to: to, lagDays: lagDays,
                                                         actor: ctx.actor, role: role, today: ctx.today)
                let data = format == "json" ? trend.json() : trend.csv()
                let summary = Pulled(pulls: trend.points.map(\.pull), out: out ?? "-", format: format, checksum: "sha256:\(trend.checksum)",
                                     quarters: trend.points.count)
                try ReportCommand.deliver(data, to: out, ctx, global, summary: summary,
                                          "trend \(from) to \(to): \(trend.points.count) quarters written as \(format) to \(out ?? "stdout"); "
                                          + "pulls \(trend.points.map { String($0.pull) }.joined(separator: ", ")) recorded, checksum sha256:\(trend.checksum)")
            }
        }
    }

    struct SafetyListingCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "safety-listing", abstract: "Case-level line listing of serious adverse events and events of special interest, for the safety agency.",
            discussion: """
            Every serious adverse event and every event of special interest (new malignancy, neurologic, autoimmune or rheumatologic, hematologic, infection) that sites learnt of from --from to --to (awareness date), CIOMS II style: a stable case pseudonym, institution, product, lot and which dose the onset followed (days after it), term and MedDRA code, category, grade and grading system, seriousness and its criteria, outcome, relatedness, the awareness, report-due and submission dates, and the expedited report's clock on --to (not-applicable, running, on-time, submitted-late, outstanding). Voided records are left out. No small-cell suppression applies; the pull is recorded with who, role and purpose, and the listing's checksum is in both formats. Over HTTP: GET /reports/safety-listing.

            Example:
              registry report safety-listing --purpose "MFDS signal review Q3" --product CART-19 --from 2026-07-01 --to 2026-09-30 --format csv --out listing.csv
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Why the listing is pulled; recorded in the audit trail (required).") var purpose: String
        @Option(help: "Only events of patients treated with this product (code).") var product: String?
        @Option(help: "First awareness date, YYYY-MM-DD (default: a year before --to).") var from: String?
        @Option(help: "Last awareness date, YYYY-MM-DD (default: today in Seoul); the clocks are read on it.") var to: String?
        @Option(help: "Whose pull: admin (default, the command line) or regulator.") var role: String = ReportRole.admin.rawValue
        @Option(help: "json or csv.") var format: String = "csv"
        @Option(help: "Write to this file (created or replaced, mode 0600) instead of stdout.") var out: String?

        struct Pulled: Encodable {
            var pull: Int
            var out: String
            var format: String
            var checksum: String
            var events: Int
            var cases: Int
        }

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                guard ["json", "csv"].contains(format) else {
                    throw RegistryError.invalid("format", "'\(format)' is not a listing format; allowed: json, csv")
                }
                let role = try ReportRole.parse(role)
                let request = try SafetyListingRequest(purpose: purpose, product: product, from: from, to: to, today: ctx.today)
                let listing = try await SafetyListing.build(database: ctx.database, request: request, actor: ctx.actor, role: role)
                let data = format == "json" ? listing.json() : listing.csv()
                let summary = Pulled(pull: listing.pullID, out: out ?? "-", format: format, checksum: "sha256:\(listing.checksum)",
                                     events: listing.rows.count, cases: Set(listing.rows.map(\.caseID)).count)
                try ReportCommand.deliver(data, to: out, ctx, global, summary: summary,
                                          "safety listing \(request.from) to \(request.to)\(request.product.map { " for \($0)" } ?? ""): \(summary.events) events of \(summary.cases) cases "
                                          + "written as \(format) to \(out ?? "stdout"); pull \(listing.pullID) recorded, checksum sha256:\(listing.checksum)")
            }
        }
    }
}
