import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RegistryDomain
import RegistryStorage
import Synchronization

/// Turns every error into an RFC 9457 problem document, so clients never get an empty 500 or
/// Hummingbird's plain-text errors.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    /// The router's routes, for 405 and `Allow` when a path exists under other methods.
    var routes = RouteTable()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return problem.response()
        } catch let error as RegistryError {
            return Problem(error).response()
        } catch let error as HTTPError {
            switch error.status {
            case .notFound:
                let allowed = routes.methods(for: request.uri.path)
                if !allowed.isEmpty {
                    var problem = Problem(.methodNotAllowed, detail: "\(request.uri.path) does not take \(request.method.rawValue); it takes \(allowed.joined(separator: ", "))")
                    problem.headers[.allow] = allowed.joined(separator: ", ")
                    return problem.response()
                }
                return Problem(.routeNotFound, detail: "there is no endpoint \(request.method.rawValue) \(request.uri.path)",
                               hint: "the endpoints are listed in /openapi.yaml").response()
            case .methodNotAllowed:
                var problem = Problem(.methodNotAllowed, detail: "\(request.uri.path) does not take \(request.method.rawValue)")
                problem.headers[.allow] = error.headers[.allow]
                return problem.response()
            case .contentTooLarge:
                return Problem(.bodyTooLarge, detail: "the body is too large").response()
            default:
                return Problem(.invalidParameter, detail: error.body ?? "the request is not valid (\(error.status.code))").response()
            }
        } catch is NIOTooManyBytesError {
            return Problem(.bodyTooLarge, detail: "the body is too large").response()
        } catch {
            let mapped = DatabaseErrors.map(error)
            if let registryError = mapped as? RegistryError { return Problem(registryError).response() }
            // The underlying cause, in full (a driver error's own description says little).
            context.logger.error("unexpected failure", metadata: ["error": "\(DatabaseErrors.summary(error))", "detail": "\(String(reflecting: error))"])
            return Problem(.internalError, detail: "the registry failed unexpectedly; the request id in X-Request-Id identifies it in the server's log").response()
        }
    }
}

/// Echoes the request id (as in the server's log lines) in `X-Request-Id` and logs one line per
/// request: method, route, status and milliseconds. The query string is left out of the log.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    static let requestIDHeader = HTTPField.Name("X-Request-Id")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response = try await next(request, context)
        response.headers[Self.requestIDHeader] = context.id
        let elapsed = (ContinuousClock.now - start).components
        let millis = Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds) / 1e15
        context.logger.info("request", metadata: [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "route": "\(context.endpointPath ?? "-")",
            "status": "\(response.status.code)", "ms": "\(String(format: "%.2f", millis))",
        ])
        return response
    }
}

/// The paths the router serves and the methods each takes, filled once the routes are built.
final class RouteTable: Sendable {
    private let table = Mutex<[(parts: [String], method: String)]>([])

    func fill<Context>(from router: Router<Context>) {
        let routes = router.routes.map { route in
            (parts: route.path.description.split(separator: "/").map(String.init), method: route.method.rawValue)
        }
        table.withLock { $0 = routes }
    }

    /// The methods of the routes whose pattern `path` matches (a `:name`, `{name}` or `*` segment matches any one segment).
    func methods(for path: String) -> [String] {
        let parts = path.split(separator: "/")
        let methods = table.withLock { table in
            table.filter { route in
                route.parts.count == parts.count && zip(route.parts, parts).allSatisfy { $0.hasPrefix(":") || $0.hasPrefix("{") || $0 == "*" || $0 == $1 }
            }.map(\.method)
        }
        return Set(methods).sorted()
    }
}
