import ArgumentParser
import RegistryDomain

struct ProtocolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protocol", abstract: "Follow-up protocols: the versioned time points that plans' administrations are followed by.",
        subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a follow-up protocol, or the next version of one.", discussion: """
            Give each time point as --point LABEL:OFFSET:BEFORE:AFTER:CONTACT, in order: OFFSET is a number and d, m or y (days, months or years after the dose), BEFORE and AFTER the window in days either side of the due date, CONTACT examination, phone or questionnaire. Each time point needs a label of its own and must fall after the one before it, within the class's follow-up (cell 5 years, gene 15, xenogeneic 30); its window must open after the day of the dose.

            A code that already exists gets its next version, for the same follow-up class. Plans submitted from then on with --protocol CODE follow the new version; plans already submitted keep theirs.

            Example:
              registry protocol add --code LTFU-CART-15Y --follow-up-class gene --point "day 28:28d:7:7:examination" --point "month 6:6m:30:30:examination" --point "year 15:15y:60:60:questionnaire"
              registry protocol add --code LTFU-CART-15Y --follow-up-class gene --reason "committee amendment RC-2026-03" --point "day 28:28d:7:7:examination" --point "month 3:3m:14:14:phone" --point "month 6:6m:30:30:examination" --point "year 15:15y:60:60:questionnaire"
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Protocol code (e.g. LTFU-CART-15Y); an existing code gets its next version.") var code: String
        @Option(name: .customLong("follow-up-class"), help: "The products it is for: cell, gene or xenogeneic.") var followUpClass: String
        @Option(name: .customLong("point"), help: ArgumentHelp("A time point, LABEL:OFFSET:BEFORE:AFTER:CONTACT, e.g. \"month 6:6m:30:30:examination\"; repeat, in order.",
                                                            valueName: "point"))
        var points: [String] = []
        @Option(help: "Why it is added, kept in the audit trail.") var reason: String?

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let new = try TimePointOption.protocol(code: code, followUpClass: followUpClass, points: points)
                let stored = try await ctx.write { tx in try await tx.protocols.add(new, reason: try reason.map { r throws(RegistryError) in try Rules.reason(r) }) }
                try ctx.emit(stored) {
                    "protocol \(stored.code) version \(stored.version) added (id \(stored.id)) for \(stored.followUpClass.rawValue) products: "
                        + "\(stored.timePoints.count) time points, '\(stored.timePoints[0].label)' to '\(stored.timePoints[stored.timePoints.count - 1].label)'"
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List follow-up protocols; with --code, each version's time points.", discussion: """
            Example:
              registry protocol list
              registry protocol list --code LTFU-GENE-15Y
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this protocol's versions, with their time points.") var code: String?

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let all = try await ctx.read { tx in try await tx.protocols.all() }.map { StoredProtocol(id: $0.key, $0.value) }
                    .filter { code == nil || $0.code == code }
                    .sorted { ($0.code, $0.version) < ($1.code, $1.version) }
                if let code, all.isEmpty {
                    throw RegistryError.notFound("code", "no follow-up protocol has code \(code)", hint: "list them with: registry protocol list")
                }
                try ctx.emit(all) {
                    guard code != nil else {
                        return table(["ID", "CODE", "VERSION", "CLASS", "TIME POINTS"], all.map {
                            ["\($0.id)", $0.code, "\($0.version)", $0.followUpClass.rawValue,
                             "\($0.timePoints.count): \($0.timePoints.first?.label ?? "") to \($0.timePoints.last?.label ?? "")"]
                        })
                    }
                    return all.map { p in
                        "\(p.code) version \(p.version) (id \(p.id), \(p.followUpClass.rawValue) products)\n"
                            + table(["#", "LABEL", "DUE AFTER THE DOSE", "WINDOW (DAYS)", "CONTACT"], p.timePoints.enumerated().map { i, t in
                                ["\(i + 1)", t.label, "\(ScheduleOffset(unit: t.offsetUnit, amount: t.offsetAmount)!)", "-\(t.windowBefore) +\(t.windowAfter)",
                                 t.contactType.rawValue]
                            })
                    }.joined(separator: "\n\n")
                }
            }
        }
    }
}

/// `--point LABEL:OFFSET:BEFORE:AFTER:CONTACT`, the time points of `registry protocol add`.
enum TimePointOption {
    /// The protocol the options describe. Refusals name `point` and say which one, counting from 1.
    static func `protocol`(code: String, followUpClass: String, points: [String]) throws(RegistryError) -> NewFollowUpProtocol {
        var checks = FieldChecks()
        var entries: [NewFollowUpProtocol.Entry] = []
        for (i, text) in points.enumerated() {
            if let entry = checks.check({ () throws(RegistryError) in try parse(text, number: i + 1) }) { entries.append(entry) }
        }
        try checks.finish()
        do {
            return try NewFollowUpProtocol(code: code, followUpClass: followUpClass, timePoints: entries)
        } catch {
            // The domain names the time point by its path (time-points/3/window-before).
            throw error.mapped { e in
                guard let field = e.field, field.hasPrefix("time-points") else { return e }
                let parts = field.split(separator: "/")
                guard parts.count == 3, let i = Int(parts[1]) else {
                    return RegistryError(e.code, field: "point", e.message, hint: "give one --point per time point")
                }
                return RegistryError(e.code, field: "point", "--point \(i + 1) ('\(points[i])'), \(parts[2]): \(e.message)", hint: e.hint)
            }
        }
    }

    /// One `--point`; the label may hold colons, the other four parts are taken from the right.
    static func parse(_ text: String, number: Int) throws(RegistryError) -> NewFollowUpProtocol.Entry {
        let raw = text.split(separator: ":", omittingEmptySubsequences: false)
        let parts = raw.map { String($0).trimmingCharactersInWhitespace() }
        let shape = "expected LABEL:OFFSET:BEFORE:AFTER:CONTACT, e.g. \"month 6:6m:30:30:examination\""
        guard parts.count >= 5 else { throw .invalid("point", "--point \(number) ('\(text)') is not a time point; \(shape)") }
        let (offset, before, after) = (parts[parts.count - 4], parts[parts.count - 3], parts[parts.count - 2])
        let units = ["d": "days", "m": "months", "y": "years"]
        guard let unit = offset.last.flatMap({ units[String($0)] }), let amount = Int(offset.dropLast()) else {
            throw .invalid("point", "--point \(number) ('\(text)'): '\(offset)' is not an offset; expected a number and d, m or y, e.g. 28d, 6m or 1y")
        }
        guard let windowBefore = Int(before), let windowAfter = Int(after) else {
            throw .invalid("point", "--point \(number) ('\(text)'): the window is given as whole days before and after, e.g. 30:30; \(shape)")
        }
        return NewFollowUpProtocol.Entry(label: raw.dropLast(4).joined(separator: ":"), offsetAmount: amount, offsetUnit: unit,
                                         windowBefore: windowBefore, windowAfter: windowAfter, contactType: parts[parts.count - 1])
    }
}
