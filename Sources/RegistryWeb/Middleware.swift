import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RegistryDomain
import RegistryStorage

/// Headers on every response of the web application: a strict Content-Security-Policy (nothing
/// from other hosts, no inline script or style, forms post only here, never framed), no MIME
/// sniffing, no referrer, and HSTS when served over TLS.
struct SecurityHeaders: RouterMiddleware {
    typealias Context = WebContext
    let tls: Bool

    static let policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        // A page that needs a narrower exception (the report's hashed stylesheet) sets its own.
        if response.headers[.contentSecurityPolicy] == nil { response.headers[.contentSecurityPolicy] = Self.policy }
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        if tls { response.headers[.strictTransportSecurity] = "max-age=31536000" }
        return response
    }
}

/// Chooses the page's language: the `lang` cookie the switch sets, else Accept-Language.
struct LanguageMiddleware: RouterMiddleware {
    typealias Context = WebContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.language = Language.negotiate(acceptLanguage: request.headers[.acceptLanguage], cookie: request.cookies["lang"]?.value)
        var response = try await next(request, context)
        response.headers[.contentLanguage] = context.language.rawValue
        response.headers[.vary] = "Accept-Language, Cookie"
        return response
    }
}

/// Turns what a page throws into a page the person can act on: an ended session back to sign-in
/// (where they were going kept), a record they may not see "not found", a refused form it did
/// not handle itself as a page naming each reason, anything else a page with the request id.
/// One line per request in the server's log (no query string, no form values).
struct WebErrorMiddleware: RouterMiddleware {
    typealias Context = WebContext
    let views: Views

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = failure(error, request: request, context: context)
        }
        let elapsed = (ContinuousClock.now - start).components
        let millis = Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds) / 1e15
        context.logger.info("page", metadata: [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
            "ms": "\(String(format: "%.2f", millis))",
        ])
        return response
    }

    func failure(_ error: any Error, request: Request, context: Context) -> Response {
        let language = context.language
        let c = views.catalogue
        func page(_ status: HTTPResponse.Status, _ heading: String, _ detail: String) -> Response {
            views.page("error", title: heading, ["heading": c.text(heading, language), "detail": detail, "request_id": context.id],
                       request: request, context: context, session: nil, status: status)
        }
        switch error {
        case let error as RegistryError where error.code == .unauthenticated:
            var response = Views.redirect(WebSignIn.path(next: Views.back(request), expired: true))
            response.setCookie(WebSignIn.clearedSessionCookie)
            return response
        case let error as RegistryError where error.code == .notFound:
            return page(.notFound, "error_not_found", c.refusal(error.message, language))
        case let error as RegistryError where error.code == .forbidden:
            return page(.forbidden, "error_forbidden", c.refusal(error.message, language))
        case let error as RegistryError where error.code == .unavailable:
            return page(.serviceUnavailable, "error_unavailable", c.text("error_unavailable_detail", language))
        case let error as RegistryError:
            return page(.unprocessableContent, "error_refused", error.all.map { c.refusal($0.message, language) }.joined(separator: " "))
        case let error as CSRFRefusal:
            _ = error
            return page(.forbidden, "error_csrf", c.text("error_csrf_detail", language))
        case let error as HTTPError where error.status == .notFound:
            return page(.notFound, "error_not_found", c.text("error_no_page", language))
        case let error as HTTPError where error.status == .methodNotAllowed:
            return page(.methodNotAllowed, "error_not_found", c.text("error_no_page", language))
        case let error as HTTPError:
            return page(error.status, "error_refused", error.body ?? "")
        default:
            let mapped = DatabaseErrors.map(error)
            if let registryError = mapped as? RegistryError, registryError.code != .configuration {
                return failure(registryError, request: request, context: context)
            }
            context.logger.error("page failed", metadata: ["error": "\(error)"])
            return page(.internalServerError, "error_internal", c.text("error_internal_detail", language))
        }
    }
}

/// A form posted without the session's CSRF token (or with another): refused before anything is read.
struct CSRFRefusal: Error {}
