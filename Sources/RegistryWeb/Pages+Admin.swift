import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

extension RegistryWeb {
    /// The administrator's accounts page: every account with its state, a form to add one (its
    /// one-time password shown once), and per account a reset (a new one-time password, its
    /// sessions ended) and a disable (with a reason, its sessions ended). Accounts are the
    /// database owner's: these run in transactions outside row-level security, as the person.
    func addAdminRoutes(_ router: Router<Context>) {
        router.get("/app/admin/users") { request, context in
            try await usersPage(request, context, error: nil, typed: [:], shown: nil)
        }

        router.post("/app/admin/users") { request, context in
            try await adminAction(request, context) { form, tx, language in
                let new = try NewUser(username: form["username"] ?? "", role: form["role"] ?? "", institutionCode: form["institution"])
                let (user, password) = try await tx.users.add(new, bcryptCost: configuration.bcryptCost)
                return (user.username, password, views.catalogue.text("users_added", language, user.username))
            }
        }

        router.post("/app/admin/users/:name/reset") { request, context in
            let name = context.parameters.get("name") ?? ""
            return try await adminAction(request, context) { _, tx, language in
                let password = try await tx.users.reset(username: name, bcryptCost: configuration.bcryptCost)
                return (name, password, views.catalogue.text("users_reset", language, name))
            }
        }

        router.post("/app/admin/users/:name/disable") { request, context in
            let name = context.parameters.get("name") ?? ""
            return try await adminAction(request, context) { form, tx, language in
                try await tx.users.disable(username: name, reason: try Rules.reason(form["reason"]))
                return (name, nil, views.catalogue.text("users_disabled", language, name))
            }
        }
    }

    /// An administrator's change: the session and its CSRF token checked, then `body` in the
    /// owner's transaction as the person; a refusal shows the page again with its messages.
    func adminAction(_ request: Request, _ context: Context,
                     _ body: @escaping @Sendable (Form, Transaction, Language) async throws -> (String, String?, String)) async throws -> Response {
        let form = try await Form.read(request)
        guard let secret = request.cookies[WebSignIn.cookieName]?.value, !secret.isEmpty else {
            throw RegistryError(.unauthenticated, "sign in first")
        }
        let session = try await database.transaction(session: secret) { _, session in session }
        guard session.user.role == .admin else { throw RegistryError(.forbidden, "this page is for admin accounts") }
        guard !session.user.mustChangePassword else { return Views.redirect("/app/password") }
        guard let token = form["_csrf"], Self.same(token, session.csrfToken) else { throw CSRFRefusal() }
        do {
            let (username, password, notice) = try await database.transaction(actor: session.user.actor) { tx in
                try await body(form, tx, context.language)
            }
            return try await usersPage(request, context, error: nil, typed: [:],
                                       shown: (username: username, password: password, notice: notice))
        } catch let error as RegistryError where error.code == .invalid || error.code == .notFound || error.code == .conflict {
            return try await usersPage(request, context, error: error, typed: form.typed, shown: nil)
        }
    }

    func usersPage(_ request: Request, _ context: Context, error: RegistryError?, typed: [String: String],
                   shown: (username: String, password: String?, notice: String)?) async throws -> Response {
        guard let secret = request.cookies[WebSignIn.cookieName]?.value, !secret.isEmpty else {
            throw RegistryError(.unauthenticated, "sign in first")
        }
        let session = try await database.transaction(session: secret) { _, session in session }
        guard !session.user.mustChangePassword else { return Views.redirect("/app/password") }
        guard session.user.role == .admin else { throw RegistryError(.forbidden, "this page is for admin accounts") }
        let users = try await database.transaction(actor: session.user.actor) { tx in try await tx.users.list() }
        let language = context.language
        let c = views.catalogue
        let (byField, summary) = fieldErrors(error, language)
        let rows: [[String: Any]] = users.map { u in
            var state: [String] = []
            if u.disabledAt != nil { state.append(c.text("users_state_disabled", language)) }
            if u.mustChangePassword { state.append(c.text("users_state_one_time", language)) }
            if u.totpEnabled { state.append(c.text("users_state_totp", language)) }
            if state.isEmpty { state.append(c.text("users_state_active", language)) }
            return ["username": u.username, "role": c.text("role_\(u.role.rawValue)", language), "institution": u.institutionCode ?? "—",
                    "state": state.joined(separator: " · "), "active": u.disabledAt == nil, "self": u.id == session.user.id]
        }
        var values: [String: Any] = [
            "rows": rows, "typed": typed,
            "roles": UserRole.allCases.map { r in ["value": r.rawValue, "label": c.text("role_\(r.rawValue)", language), "selected": typed["role"] == r.rawValue] as [String: Any] },
            "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
        ]
        if let shown {
            values["notice"] = shown.notice
            if let password = shown.password { values["one_time"] = ["username": shown.username, "password": password] as [String: Any] }
        }
        return views.page("users", title: "users_title", values, request: request, context: context, session: session,
                          status: error == nil ? .ok : .unprocessableContent)
    }
}
