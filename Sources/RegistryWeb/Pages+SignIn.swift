import Crypto
import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

/// Sign-in, sign-out and the password change every new account makes first.
enum WebSignIn {
    /// The session cookie: the session's secret, which the database keeps only as a hash.
    static let cookieName = "registry_session"
    /// The sign-in form's own CSRF token, before there is a session (double submit).
    static let formCookieName = "registry_signin"

    static func path(next: String, expired: Bool = false) -> String {
        var path = "/app/sign-in?next=" + Views.queryEscaped(RegistryWeb.localPath(next))
        if expired { path += "&expired=1" }
        return path
    }

    static var clearedSessionCookie: Cookie {
        Cookie(name: cookieName, value: "", maxAge: 0, path: "/", secure: false, httpOnly: true, sameSite: .strict)
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

extension RegistryWeb {
    func addSignInRoutes(_ router: Router<Context>) {
        router.get("/app/sign-in") { request, context in
            let q = request.uri.queryParameters
            return signInPage(request, context, next: q.get("next"), username: "",
                              message: q.get("expired") != nil ? "signin_expired" : nil, askCode: false)
        }

        router.post("/app/sign-in") { request, context in
            let form = try await Form.read(request)
            let next = RegistryWeb.localPath(form["next"])
            guard let token = form["_csrf"], let cookie = request.cookies[WebSignIn.formCookieName]?.value, Self.same(token, cookie) else {
                return signInPage(request, context, next: next, username: form["username"] ?? "", message: "signin_form_expired", askCode: false)
            }
            let username = String((form["username"] ?? "").lowercased().prefix(64))
            let result = try await database.transaction(actor: "user:\(username)") { tx in
                try await tx.users.signIn(username: username, password: form.values["password"]?.first ?? "", totp: form["code"])
            }
            switch result {
            case .signedIn(let user):
                let secret = try await database.transaction(actor: "user:\(user.username)") { tx in
                    try await tx.webSessions.open(userID: user.id, idleTimeout: configuration.idleTimeout,
                                                  absoluteLimit: configuration.absoluteLimit).secret
                }
                var response = Views.redirect(user.mustChangePassword ? "/app/password" : next)
                response.setCookie(Cookie(name: WebSignIn.cookieName, value: secret, path: "/", secure: configuration.tls,
                                          httpOnly: true, sameSite: .strict))
                response.setCookie(Cookie(name: WebSignIn.formCookieName, value: "", maxAge: 0, path: "/app/sign-in",
                                          secure: configuration.tls, httpOnly: true, sameSite: .strict))
                return response
            case .needsSecondFactor:
                return signInPage(request, context, next: next, username: username,
                                  message: form["code"] == nil ? "signin_code_needed" : "signin_code_wrong", askCode: true)
            case .refused(.badCredentials(let delay)):
                try await Task.sleep(for: delay)
                return signInPage(request, context, next: next, username: username, message: "signin_wrong", askCode: false,
                                  status: .unauthorized)
            case .refused(.locked(let until)):
                return signInPage(request, context, next: next, username: username, message: "signin_locked", askCode: false,
                                  status: .unauthorized, value: Self.minutes(until))
            case .refused(.disabled):
                return signInPage(request, context, next: next, username: username, message: "signin_disabled", askCode: false,
                                  status: .unauthorized)
            }
        }

        router.post("/app/sign-out") { request, context in
            let form = try await Form.read(request)
            if let secret = request.cookies[WebSignIn.cookieName]?.value, !secret.isEmpty,
               let session = try await database.session(secret: secret) {
                guard let token = form["_csrf"], Self.same(token, session.csrfToken) else { throw CSRFRefusal() }
                try await database.transaction(actor: "user:\(session.user.username)") { tx in
                    try await tx.webSessions.revoke(secret: secret, reason: "signed out")
                }
            }
            var response = Views.redirect("/app/sign-in?signed_out=1")
            response.setCookie(WebSignIn.clearedSessionCookie)
            return response
        }

        router.get("/app/password") { request, context in
            try await passwordPage(request, context, errors: nil)
        }

        router.post("/app/password") { request, context in
            let form = try await Form.read(request)
            guard let secret = request.cookies[WebSignIn.cookieName]?.value, !secret.isEmpty else {
                throw RegistryError(.unauthenticated, "sign in first")
            }
            let session = try await database.transaction(session: secret) { _, session in session }
            guard let token = form["_csrf"], Self.same(token, session.csrfToken) else { throw CSRFRefusal() }
            do {
                // Credentials are the owner's to change: not in the session's row-level-security transaction.
                try await database.transaction(actor: session.user.actor) { tx in
                    let new = form.values["new_password"]?.first ?? ""
                    var checks = FieldChecks()
                    if new != (form.values["repeat_password"]?.first ?? "") {
                        checks.refuse(.invalid("repeat_password", "the two new passwords are not the same"))
                    }
                    do {
                        try await tx.users.changePassword(userID: session.user.id, current: form.values["current_password"]?.first ?? "",
                                                          new: new, bcryptCost: configuration.bcryptCost)
                        // Whoever knew the old password may hold a session: only this one stays.
                        try await tx.webSessions.revokeOthers(userID: session.user.id, keeping: session.id, reason: "password changed")
                    } catch let error as RegistryError where error.code == .invalid || error.code == .conflict {
                        checks.refuse(error)
                    }
                    do throws(RegistryError) { try checks.finish() } catch { throw Refusal(error: error) }
                }
            } catch let refusal as Refusal {
                return try await passwordPage(request, context, errors: refusal.error)
            }
            return Views.redirect("/app/?password_changed=1")
        }
    }

    /// Minutes from now until `date`, rounded up (a lock-out's remaining time).
    static func minutes(_ date: Date) -> String {
        String(max(1, Int((date.timeIntervalSinceNow / 60).rounded(.up))))
    }

    func signInPage(_ request: Request, _ context: Context, next: String?, username: String, message: String?, askCode: Bool,
                    status: HTTPResponse.Status = .ok, value: String = "") -> Response {
        let token = WebSignIn.randomToken()
        var values: [String: Any] = ["next": RegistryWeb.localPath(next), "username": username, "form_token": token, "ask_code": askCode]
        if let message { values["message"] = views.catalogue.text(message, context.language, value) }
        if request.uri.queryParameters.get("signed_out") != nil { values["notice"] = views.catalogue.text("signin_signed_out", context.language) }
        var response = views.page("sign-in", title: "signin_title", values, request: request, context: context, session: nil, status: status)
        response.setCookie(Cookie(name: WebSignIn.formCookieName, value: token, path: "/app/sign-in", secure: configuration.tls,
                                  httpOnly: true, sameSite: .strict))
        return response
    }

    func passwordPage(_ request: Request, _ context: Context, errors: RegistryError?) async throws -> Response {
        guard let secret = request.cookies[WebSignIn.cookieName]?.value, !secret.isEmpty else {
            throw RegistryError(.unauthenticated, "sign in first")
        }
        let session = try await database.transaction(session: secret) { _, session in session }
        let (byField, summary) = fieldErrors(errors, context.language)
        return views.page("password", title: "password_title",
                          ["errors": byField, "summary": summary, "has_errors": !summary.isEmpty, "first": session.user.mustChangePassword],
                          request: request, context: context, session: session, status: errors == nil ? .ok : .unprocessableContent)
    }
}
