import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RegistryDomain
import RegistryReports
import RegistryStorage

extension RegistryWeb {
    /// The regulator's outcome report: its parameters as a form (a purpose required), shown as the
    /// report's own HTML page or downloaded as JSON or CSV. Built, suppressed and recorded (with the
    /// purpose, as the person) by the same `OutcomeReport.build` as the API and the command line,
    /// so the same parameters give the same bytes.
    func addReportRoutes(_ router: Router<Context>) {
        router.get("/app/reports") { request, context in
            try await reportFormPage(request, context, error: nil)
        }

        router.get("/app/reports/outcomes") { request, context in
            // A form sent with GET: decoded as a form (a '+' is a space).
            let q = Form(request.uri.query ?? "")
            func value(_ name: String) -> String? { q[name] }
            // The report itself runs outside row-level security, where only suppressed aggregates
            // leave the report module.
            let (session, role) = try await reportSession(request, refusal: "outcome reports are for regulator and admin accounts")
            let floor = role == .regulator ? max(role.minimumCellFloor, configuration.minCell) : role.minimumCellFloor
            var checks = FieldChecks()
            let purpose = checks.check { () throws(RegistryError) in
                guard let p = value("purpose") else {
                    throw .invalid("purpose", "a purpose is required: why the report is pulled, recorded with the pull in the audit trail")
                }
                return p
            }
            let asOf = value("as-of").flatMap { text in checks.check { () throws(RegistryError) in try Rules.date(text, field: "as-of") } }
            let minCell = value("min-cell").flatMap { text in
                checks.check { () throws(RegistryError) -> Int in
                    guard let n = Int(text), (floor...1000).contains(n) else {
                        throw .invalid("min-cell", "'\(text)' is not allowed for a \(role.rawValue) account; allowed: \(floor) to 1000")
                    }
                    return n
                }
            } ?? max(ReportParameters.defaultMinimumCell, floor)
            let by = ReportDimension.allCases.filter { q.all("by").contains($0.rawValue) }
            let format = value("format") ?? "html"
            let cut = value("cut").flatMap { text in
                checks.check { () throws(RegistryError) -> Int in
                    guard let n = Int(text), n > 0 else { throw .invalid("cut", "'\(text)' is not a pull number") }
                    return n
                }
            }
            do {
                try checks.finish()
                var parameters: ReportParameters
                if let cut {
                    // Repeating a pull: its parameters, not the form's (a regulator only a regulator's cut).
                    parameters = try await OutcomeReport.cut(database: database, pull: cut, purpose: purpose!)
                    if role == .regulator && parameters.minimumCell < floor {
                        throw RegistryError.invalid("cut", "pull \(cut) used K = \(parameters.minimumCell), below \(floor), the least a regulator may see")
                    }
                } else {
                    parameters = ReportParameters(purpose: purpose!, asOf: asOf ?? database.today(), product: value("product"),
                                                  indication: value("indication"), institution: value("institution"), by: by, minimumCell: minCell)
                    // The form always carries an as-of date; a quarter replaces it.
                    try parameters.setCut(quarter: value("quarter"), lagDays: nil, recordedBy: nil, asOfGiven: false)
                }
                let report = try await OutcomeReport.build(database: database, parameters: parameters, actor: session.user.actor,
                                                           role: role, today: database.today())
                let stamp = parameters.asOf.description
                switch format {
                case "json":
                    return Self.download(report.json(), type: "application/json", name: "outcomes-\(stamp).json")
                case "csv":
                    return Self.download(report.csv(), type: "text/csv; charset=utf-8", name: "outcomes-\(stamp).csv")
                default:
                    return Self.reportPage(report.html(language: context.language == .ko ? .ko : .en))
                }
            } catch let error as RegistryError where error.code == .invalid || error.code == .notFound {
                return try await reportFormPage(request, context, error: error)
            }
        }
    }

    /// The signed-in regulator or administrator pulling a report or listing, and their report
    /// role: the session is checked (and touched) as for every page; other roles get `refusal`.
    func reportSession(_ request: Request, refusal: String) async throws -> (WebSession, ReportRole) {
        guard let secret = request.cookies[WebSignIn.cookieName]?.value, !secret.isEmpty else {
            throw RegistryError(.unauthenticated, "sign in first")
        }
        let session = try await database.transaction(session: secret) { _, session in session }
        guard session.user.role == .regulator || session.user.role == .admin else { throw RegistryError(.forbidden, refusal) }
        return (session, session.user.role == .admin ? .admin : .regulator)
    }

    static func download(_ data: Data, type: String, name: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-store", .contentDisposition: "attachment; filename=\"\(name)\""],
                 body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The report's own HTML page. Its one inline stylesheet is allowed by its hash, nothing else
    /// inline: the page keeps the strict policy.
    static func reportPage(_ data: Data) -> Response {
        let html = String(decoding: data, as: UTF8.self)
        var policy = SecurityHeaders.policy
        if let start = html.range(of: "<style>"), let end = html.range(of: "</style>", range: start.upperBound..<html.endIndex) {
            let css = Data(html[start.upperBound..<end.lowerBound].utf8)
            let hash = Data(SHA256.hash(data: css)).base64EncodedString()
            policy = policy.replacingOccurrences(of: "style-src 'self'", with: "style-src 'self' 'sha256-\(hash)'")
        }
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: policy],
                         body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func reportFormPage(_ request: Request, _ context: Context, error: RegistryError?) async throws -> Response {
        try await page(request, context, roles: [.regulator, .admin]) { tx, session in
            let form = Form(request.uri.query ?? "")
            let q = form.typed
            let language = context.language
            let (byField, summary) = fieldErrors(error, language)
            let chosen = Set(form.all("by"))
            let values: [String: Any] = [
                "purpose": q["purpose"] ?? "", "as_of": q["as-of"] ?? database.today().description, "today": database.today().description,
                "product": q["product"] ?? "", "indication": q["indication"] ?? "", "institution": q["institution"] ?? "",
                "min_cell": q["min-cell"] ?? "", "quarter": q["quarter"] ?? "", "cut": q["cut"] ?? "",
                "min_floor": String(session.user.role == .regulator ? max(MinimumCell.regulatorFloor, configuration.minCell) : MinimumCell.floor),
                "dimensions": ReportDimension.allCases.map { d in
                    ["value": d.rawValue, "label": views.catalogue.text("report_by_\(d.rawValue)", language), "checked": chosen.contains(d.rawValue)] as [String: Any]
                },
                "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
            ]
            return views.page("reports", title: "report_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }
}
