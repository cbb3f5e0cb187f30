import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RegistryDomain
import RegistryStorage

/// Settings of the web application that an operator may change.
public struct WebConfiguration: Sendable {
    /// Served over TLS (directly or behind a proxy that terminates it): cookies are `Secure` and
    /// responses carry HSTS.
    public var tls = false
    /// A session ends after this long without a request.
    public var idleTimeout: Duration = .seconds(30 * 60)
    /// A session ends this long after sign-in, however busy.
    public var absoluteLimit: Duration = .seconds(12 * 60 * 60)
    /// bcrypt's cost for passwords set through the pages.
    public var bcryptCost = 12
    /// Rows per page of a list.
    public var pageSize = 100
    /// The smallest count a regulator's report shows (`--min-cell`); they may ask for more.
    public var minCell = MinimumCell.defaultK

    public init() {}
}

/// The registry's web application for people: coordinators (their site's worklist, patients,
/// visits, events), regulators (outcome reports) and administrators (accounts). Server-rendered
/// pages from the Mustache templates in `Resources/templates`, every word from the catalogues in
/// `Resources/messages`, forms that work without JavaScript. Each page runs in one transaction
/// opened by its session cookie under the same row-level security as the API
/// (`Database.transaction(session:)`); writes go through the same repositories and domain checks
/// as the API and the command line, so a rule has one definition and one wording.
public struct RegistryWeb: Sendable {
    public let database: Database
    public let pseudonymizer: Pseudonymizer
    public let configuration: WebConfiguration
    public let views: Views

    public init(database: Database, pseudonymizer: Pseudonymizer, configuration: WebConfiguration = WebConfiguration()) throws {
        self.database = database
        self.pseudonymizer = pseudonymizer
        self.configuration = configuration
        self.views = try Views.load()
    }

    /// Whether a request path is the web application's (the API has every other path).
    public static func owns(_ path: String) -> Bool {
        path == "/" || path == "/app" || path.hasPrefix("/app/")
    }

    public typealias Context = WebContext

    /// Every page, behind the security headers, the language choice and the error pages.
    public func buildRouter() -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: SecurityHeaders(tls: configuration.tls))
        router.add(middleware: LanguageMiddleware())
        router.add(middleware: WebErrorMiddleware(views: views))
        router.get("/") { _, _ in Views.redirect("/app/") }
        router.get("/app/") { request, context in
            try await page(request, context, roles: Set(UserRole.allCases)) { _, session in
                Views.redirect(Views.navigation(for: session.user.role)[0].href)
            }
        }
        router.get("/app/static/:name") { request, context in
            guard let name = context.parameters.get("name"), let response = views.staticFile(name, request: request) else {
                throw HTTPError(.notFound)
            }
            return response
        }
        router.get("/app/language") { request, _ in
            let to = Language(rawValue: request.uri.queryParameters.get("to") ?? "") ?? .ko
            var response = Views.redirect(Self.localPath(request.uri.queryParameters.get("back")))
            response.setCookie(Cookie(name: "lang", value: to.rawValue, maxAge: 365 * 24 * 3600, path: "/", secure: configuration.tls,
                                      httpOnly: true, sameSite: .strict))
            return response
        }
        addSignInRoutes(router)
        addWorklistRoutes(router)
        addPatientRoutes(router)
        addVisitRoutes(router)
        addLostProposalRoutes(router)
        addRecordRoutes(router)
        addReportRoutes(router)
        addSafetyListingRoutes(router)
        addAdminRoutes(router)
        addAccountRoutes(router)
        addRegistryRoutes(router)
        return router
    }

    // MARK: plumbing

    /// A path inside the application to return to, never another host (`//evil`, `https://...`).
    static func localPath(_ text: String?) -> String {
        guard let text, text.hasPrefix("/app"), !text.hasPrefix("//"), !text.contains("\\"),
              !text.contains("\r"), !text.contains("\n") else { return "/app/" }
        return text
    }

    /// Runs a page in the transaction its session cookie opens, for people of `roles`. No cookie,
    /// or a session that has ended: back to sign-in. A password still to change: to that page first.
    func page(_ request: Request, _ context: Context, roles: Set<UserRole>, writes: Bool = false,
              _ body: @Sendable (Transaction, WebSession) async throws -> Response) async throws -> Response {
        guard let secret = request.cookies[WebSignIn.cookieName]?.value, !secret.isEmpty else {
            throw RegistryError(.unauthenticated, "sign in first")
        }
        return try await database.transaction(session: secret, writes: writes) { tx, session in
            if session.user.mustChangePassword {
                return Views.redirect("/app/password")
            }
            guard roles.contains(session.user.role) else {
                throw RegistryError(.forbidden, "this page is for \(roles.map(\.rawValue).sorted().joined(separator: " or ")) accounts")
            }
            return try await body(tx, session)
        }
    }

    /// Runs a submitted form: read, its CSRF token checked against the session's, then `body` in
    /// the session's transaction. A refusal rolls everything back and is handed to `refused`, which
    /// shows the form again with every message beside its field and what the person typed.
    func submit(_ request: Request, _ context: Context, roles: Set<UserRole>,
                refused: @Sendable (RegistryError, Form) async throws -> Response,
                _ body: @Sendable (Form, Transaction, WebSession) async throws -> Response) async throws -> Response {
        let form = try await Form.read(request)
        do {
            return try await page(request, context, roles: roles, writes: true) { tx, session in
                guard let token = form["_csrf"], Self.same(token, session.csrfToken) else { throw CSRFRefusal() }
                do {
                    return try await body(form, tx, session)
                } catch let error as RegistryError where ![.unauthenticated, .forbidden, .unavailable, .configuration].contains(error.code) {
                    throw Refusal(error: error)
                }
            }
        } catch let refusal as Refusal {
            return try await refused(refusal.error, form)
        }
    }

    struct Refusal: Error { var error: RegistryError }

    /// Constant-time comparison of two tokens.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// A refusal's messages by form field (`field(domainName)` names the field; nil: the form's
    /// summary only), in the page's language; and the summary list, every message once, in order.
    func fieldErrors(_ error: RegistryError?, _ language: Language, field: (String?) -> String? = { $0 }) -> (byField: [String: String], summary: [[String: Any]]) {
        guard let error else { return ([:], []) }
        var byField: [String: String] = [:]
        var summary: [[String: Any]] = []
        for e in error.all {
            let text = views.catalogue.refusal(e.message, language)
            let name = field(e.field)
            if let name { byField[name] = byField[name].map { $0 + " " + text } ?? text }
            summary.append(["field": name as Any, "message": text])
        }
        return (byField, summary)
    }
}
