import Foundation
import Hummingbird
import NIOCore
import RegistryDomain
import RegistryReports
import RegistryStorage

/// `registry report outcomes`'s options as query parameters: the same names in snake_case.
enum OutcomeReportQuery {
    /// The refusals' field names (the command line's options) -> query parameter.
    static let parameters = [
        "purpose": "purpose", "as-of": "as_of", "product": "product", "indication": "indication", "institution": "institution",
        "by": "by", "min-cell": "min_cell", "no-suppression": "no_suppression", "format": "format", "lang": "lang",
        "recorded-by": "recorded_by", "quarter": "quarter", "lag-days": "lag_days", "cut": "cut",
    ]

    /// Each format's content type.
    static let contentTypes = ["json": "application/json", "csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8"]
}

extension RegistryAPI {
    /// The outcome report for regulator and admin tokens: `registry report outcomes` over HTTP,
    /// built, suppressed and recorded by the same `OutcomeReport.build`, so the same parameters
    /// give the same bytes. The token's role is the report's role.
    ///
    /// The report runs on the pool's own connections, not in the request's row-level-security
    /// scope: there `registry_api` sees no patient rows for these tokens and may not write
    /// `report_pull`. The report module is the gate instead, as `registry_summary()` is for the
    /// summary: only suppressed aggregates leave it, and the pull is recorded in the audit trail
    /// before the response is sent.
    func addReportRoutes(_ routes: RouterGroup<Context>) {
        addSafetyListingRoute(routes)
        addTrendRoute(routes)
        routes.get("/reports/outcomes") { request, context in
            let grant = try context.requireGrant()
            let q = try query(request, allowed: Set(OutcomeReportQuery.parameters.values))
            let role: ReportRole = grant.role == .admin ? .admin : .regulator
            let format = q["format"] ?? "json"
            guard let contentType = OutcomeReportQuery.contentTypes[format] else {
                throw Problem(parameter: "format", .invalid("format", "'\(format)' is not a report format; allowed: json, csv, html"))
            }
            let language = try q["lang"].map { text throws -> ReportLanguage in
                guard let language = ReportLanguage(rawValue: text) else {
                    throw Problem(parameter: "lang", .invalid("lang", "'\(text)' is not a report language; allowed: ko, en"))
                }
                return language
            } ?? .en
            guard let purpose = q["purpose"] else {
                throw Problem(parameter: "purpose", .invalid("purpose", "a purpose is required: why the report is pulled, recorded with the pull in the audit trail"))
            }
            // Unsuppressed figures never leave over HTTP; an administrator checks them at the command line.
            if let off = q["no_suppression"], off != "false" {
                guard off == "true" else { throw Problem(parameter: "no_suppression", .invalid("no-suppression", "'\(off)' is not true or false")) }
                throw Problem(.forbidden, detail: "the API always suppresses small cells; an administrator's unsuppressed check is pulled at the command line",
                              errors: [.parameter("no_suppression", "only false is allowed here")])
            }
            // Regulators get the report's floor of 5, or the server's --min-cell when higher: the
            // smallest count any of their aggregates shows.
            let floor = role == .regulator ? max(role.minimumCellFloor, configuration.minCell) : role.minimumCellFloor
            let minCell = try q["min_cell"].map { text throws -> Int in
                guard let n = Int(text), n >= floor, n <= 1000 else {
                    throw Problem(parameter: "min_cell", .invalid("min-cell", "'\(text)' is not allowed for a \(role.rawValue) token; allowed: \(floor) to 1000"))
                }
                return n
            } ?? max(ReportParameters.defaultMinimumCell, floor)
            let asOf = try date(q, "as_of") ?? database.today()
            let lagDays = try q["lag_days"].map { text throws -> Int in
                guard let n = Int(text) else { throw Problem(parameter: "lag_days", .invalid("lag-days", "'\(text)' is not a whole number of days; allowed: 0 to 365")) }
                return n
            }
            let cut = try q["cut"].map { text throws -> Int in
                guard let n = Int(text), n > 0 else { throw Problem(parameter: "cut", .invalid("cut", "'\(text)' is not a pull number")) }
                return n
            }
            do {
                var parameters: ReportParameters
                if let cut {
                    let given = ["as_of", "product", "indication", "institution", "by", "min_cell", "recorded_by", "quarter", "lag_days"].filter { q[$0] != nil }
                    if let first = given.first {
                        throw Problem(parameter: first, .invalid(first, "a cut repeats its pull's parameters; leave out \(given.joined(separator: ", "))"))
                    }
                    parameters = try await OutcomeReport.cut(database: database, pull: cut, purpose: purpose)
                } else {
                    parameters = ReportParameters(
                        purpose: purpose, asOf: asOf, product: q["product"], indication: q["indication"], institution: q["institution"],
                        by: try q["by"].map { t throws(RegistryError) in try ReportDimension.parseList(t) } ?? [], minimumCell: minCell)
                    try parameters.setCut(quarter: q["quarter"], lagDays: lagDays, recordedBy: q["recorded_by"], asOfGiven: q["as_of"] != nil)
                }
                // A regulator repeats only a cut a regulator could pull (the server's floor included).
                if role == .regulator && parameters.minimumCell < floor {
                    throw Problem(parameter: "cut", .invalid("cut", "pull \(cut ?? 0) used K = \(parameters.minimumCell), below this server's \(floor) for regulators"))
                }
                let pinned = parameters
                // The token is re-checked, as every request's scoped transaction does, so a token
                // revoked a moment ago pulls nothing.
                try await database.transaction(actor: grant.actor, scope: grant.scope) { _ in }
                // report_pull.pulled_by holds 200 characters; the token id comes first.
                let build = { @Sendable [database] () async throws -> Data in
                    let report = try await OutcomeReport.build(database: database, parameters: pinned, actor: String(grant.actor.prefix(200)),
                                                               role: role, today: database.today())
                    return switch format {
                    case "csv": report.csv()
                    case "html": report.html(language: language)
                    default: report.json()
                    }
                }
                // Seconds of CPU work: off the event loops, which serve every other request.
                let body = if #available(macOS 15, *) { try await ThreadPoolExecutor.run(build) } else { try await build() }
                return Response(status: .ok, headers: [.contentType: contentType, .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
            } catch let error as RegistryError {
                // A refused value, or a code that names no product or institution: the parameter is at fault.
                guard [.invalid, .notFound].contains(error.code), let parameter = error.field.flatMap({ OutcomeReportQuery.parameters[$0] }) else { throw error }
                throw Problem(parameter: parameter,error)
            }
        }
    }
}

extension RegistryAPI {
    /// The safety line listing for regulator and admin tokens: `registry report safety-listing` over
    /// HTTP, built and recorded by the same `SafetyListing.build`. Case-level and unsuppressed by
    /// design (the safety agency's pharmacovigilance); institution tokens are refused.
    func addSafetyListingRoute(_ routes: RouterGroup<Context>) {
        routes.get("/reports/safety-listing") { request, context in
            let grant = try context.requireGrant()
            let q = try query(request, allowed: ["purpose", "product", "from", "to", "format"])
            let role: ReportRole = grant.role == .admin ? .admin : .regulator
            let format = q["format"] ?? "json"
            let listingRequest: SafetyListingRequest
            do {
                guard ["json", "csv"].contains(format) else {
                    throw RegistryError.invalid("format", "'\(format)' is not a listing format; allowed: json, csv")
                }
                listingRequest = try SafetyListingRequest(purpose: q["purpose"], product: q["product"], from: q["from"], to: q["to"], today: database.today())
            } catch let error as RegistryError {
                throw Problem(.invalidParameter, detail: error.message, errors: error.all.map { .parameter($0.field ?? "query", $0.message) })
            }
            try await database.transaction(actor: grant.actor, scope: grant.scope) { _ in }
            let build = { @Sendable [database] () async throws -> Data in
                let listing = try await SafetyListing.build(database: database, request: listingRequest, actor: String(grant.actor.prefix(200)), role: role)
                return format == "csv" ? listing.csv() : listing.json()
            }
            do {
                let body = if #available(macOS 15, *) { try await ThreadPoolExecutor.run(build) } else { try await build() }
                return Response(status: .ok, headers: [.contentType: OutcomeReportQuery.contentTypes[format]!, .cacheControl: "no-store"],
                                body: .init(byteBuffer: ByteBuffer(bytes: body)))
            } catch let error as RegistryError where error.code == .notFound && error.field == "product" {
                throw Problem(parameter: "product", error)
            }
        }
    }
}

extension RegistryAPI {
    /// The outcome trend by quarter for regulator and admin tokens: `registry report trend` over
    /// HTTP, each quarter's report pulled and recorded by the same `OutcomeTrend.build`.
    func addTrendRoute(_ routes: RouterGroup<Context>) {
        routes.get("/reports/trend") { request, context in
            let grant = try context.requireGrant()
            let q = try query(request, allowed: ["purpose", "from", "to", "lag_days", "product", "indication", "institution", "min_cell", "format"])
            let role: ReportRole = grant.role == .admin ? .admin : .regulator
            let format = q["format"] ?? "json"
            let floor = role == .regulator ? max(role.minimumCellFloor, configuration.minCell) : role.minimumCellFloor
            var checks = FieldChecks()
            if !["json", "csv"].contains(format) {
                checks.refuse(.invalid("format", "'\(format)' is not a trend format; allowed: csv, json"))
            }
            if q["purpose"] == nil { checks.refuse(.invalid("purpose", "a purpose is required: why the trend is pulled, recorded with each pull in the audit trail")) }
            if q["from"] == nil { checks.refuse(.invalid("from", "the first quarter is required, YYYYQn")) }
            if q["to"] == nil { checks.refuse(.invalid("to", "the last quarter is required, YYYYQn (it must have ended)")) }
            let lagDays = q["lag_days"].flatMap { text in
                checks.check { () throws(RegistryError) -> Int in
                    guard let n = Int(text), (0...365).contains(n) else { throw .invalid("lag_days", "'\(text)' is not allowed; allowed: 0 to 365 days after the quarter's end") }
                    return n
                }
            }
            let minCell = q["min_cell"].flatMap { text in
                checks.check { () throws(RegistryError) -> Int in
                    guard let n = Int(text), (floor...1000).contains(n) else {
                        throw .invalid("min_cell", "'\(text)' is not allowed for a \(role.rawValue) token; allowed: \(floor) to 1000")
                    }
                    return n
                }
            } ?? max(ReportParameters.defaultMinimumCell, floor)
            do {
                try checks.finish()
            } catch let error as RegistryError {
                throw Problem(.invalidParameter, detail: error.message, errors: error.all.map { .parameter($0.field ?? "query", $0.message) })
            }
            let parameters = ReportParameters(purpose: q["purpose"]!, asOf: database.today(), product: q["product"], indication: q["indication"],
                                              institution: q["institution"], minimumCell: minCell)
            try await database.transaction(actor: grant.actor, scope: grant.scope) { _ in }
            let build = { @Sendable [database] () async throws -> Data in
                let trend = try await OutcomeTrend.build(database: database, parameters: parameters, from: q["from"]!, to: q["to"]!, lagDays: lagDays,
                                                         actor: String(grant.actor.prefix(200)), role: role, today: database.today())
                return format == "csv" ? trend.csv() : trend.json()
            }
            do {
                let body = if #available(macOS 15, *) { try await ThreadPoolExecutor.run(build) } else { try await build() }
                return Response(status: .ok, headers: [.contentType: OutcomeReportQuery.contentTypes[format]!, .cacheControl: "no-store"],
                                body: .init(byteBuffer: ByteBuffer(bytes: body)))
            } catch let error as RegistryError where [.invalid, .notFound].contains(error.code) {
                let parameter = error.field.flatMap { OutcomeReportQuery.parameters[$0] ?? (["from", "to"].contains($0) ? $0 : nil) } ?? "query"
                throw Problem(parameter: parameter, error)
            }
        }
    }
}
