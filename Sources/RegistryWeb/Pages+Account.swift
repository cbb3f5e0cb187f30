import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

extension RegistryWeb {
    /// The person's own account: their password, and the optional second factor (TOTP, RFC 6238):
    /// set up by entering the secret in an authenticator app and confirming one code; switched off
    /// with the password. Credentials are the owner's: these run outside row-level security, as
    /// the person.
    func addAccountRoutes(_ router: Router<Context>) {
        router.get("/app/account") { request, context in
            let session = try await signedIn(request)
            return try await accountPage(request, context, session: session, setup: nil, error: nil, notice: nil)
        }

        router.post("/app/account/second-factor") { request, context in
            let (form, session) = try await signedInForm(request)
            let setup = try await database.transaction(actor: session.user.actor) { tx in try await tx.users.beginTOTP(userID: session.user.id) }
            _ = form
            return try await accountPage(request, context, session: session, setup: setup, error: nil, notice: nil)
        }

        router.post("/app/account/second-factor/confirm") { request, context in
            let (form, session) = try await signedInForm(request)
            do {
                try await database.transaction(actor: session.user.actor) { tx in
                    try await tx.users.confirmTOTP(userID: session.user.id, code: form["code"] ?? "")
                }
            } catch let error as RegistryError where error.code == .invalid || error.code == .conflict {
                // The same secret stays pending: show it again with the refusal.
                let setup = (secret: form["secret"] ?? "", otpauthURI: form["uri"] ?? "")
                return try await accountPage(request, context, session: session, setup: setup, error: error, notice: nil)
            }
            return try await accountPage(request, context, session: session, setup: nil, error: nil,
                                         notice: views.catalogue.text("account_totp_on", context.language))
        }

        router.post("/app/account/second-factor/off") { request, context in
            let (form, session) = try await signedInForm(request)
            let ok = try await database.transaction(session: request.cookies[WebSignIn.cookieName]?.value ?? "") { tx, s in
                try await tx.users.verifyPassword(userID: s.user.id, password: form.values["password"]?.first ?? "")
            }
            guard ok else {
                return try await accountPage(request, context, session: session, setup: nil,
                                             error: .invalid("password", "the password is not right; the change was not signed"), notice: nil)
            }
            try await database.transaction(actor: session.user.actor) { tx in try await tx.users.disableTOTP(userID: session.user.id) }
            return try await accountPage(request, context, session: session, setup: nil, error: nil,
                                         notice: views.catalogue.text("account_totp_off", context.language))
        }
    }

    /// The signed-in person's session (checked and touched), for pages outside a page transaction.
    func signedIn(_ request: Request) async throws -> WebSession {
        guard let secret = request.cookies[WebSignIn.cookieName]?.value, !secret.isEmpty else {
            throw RegistryError(.unauthenticated, "sign in first")
        }
        return try await database.transaction(session: secret) { _, session in session }
    }

    /// A posted form of the signed-in person, its CSRF token checked.
    func signedInForm(_ request: Request) async throws -> (Form, WebSession) {
        let form = try await Form.read(request)
        let session = try await signedIn(request)
        guard let token = form["_csrf"], Self.same(token, session.csrfToken) else { throw CSRFRefusal() }
        return (form, session)
    }

    func accountPage(_ request: Request, _ context: Context, session: WebSession, setup: (secret: String, otpauthURI: String)?,
                     error: RegistryError?, notice: String?) async throws -> Response {
        if session.user.mustChangePassword { return Views.redirect("/app/password") }
        // The account as it is now (a second factor just switched on or off).
        let account = try await database.transaction(actor: session.user.actor) { tx in try await tx.users.user(id: session.user.id) } ?? session.user
        let (byField, summary) = fieldErrors(error, context.language, field: { $0 == "totp" ? "code" : $0 })
        var values: [String: Any] = [
            "username": account.username, "role": views.catalogue.text("role_\(account.role.rawValue)", context.language),
            "institution": account.institutionCode ?? "—", "totp": account.totpEnabled,
            "errors": byField, "summary": summary, "has_errors": !summary.isEmpty, "notice": notice as Any,
        ]
        if let setup {
            values["setup"] = ["secret": setup.secret, "grouped": Self.grouped(secret: setup.secret), "uri": setup.otpauthURI] as [String: Any]
        }
        return views.page("account", title: "account_title", values, request: request, context: context, session: session,
                          status: error == nil ? .ok : .unprocessableContent)
    }

    /// A base32 secret in groups of four, as people type it into an app.
    static func grouped(secret: String) -> String {
        var groups: [String] = []
        var rest = Substring(secret)
        while !rest.isEmpty { groups.append(String(rest.prefix(4))); rest = rest.dropFirst(4) }
        return groups.joined(separator: " ")
    }
}
