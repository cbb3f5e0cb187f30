import Foundation
import Hummingbird
import Logging
import RegistryDomain
import RegistryStorage

/// Bearer-token authentication: finds what the token grants and puts it on the context. A
/// missing, unknown or revoked token gets 401. Grants are remembered for a minute so that a
/// request costs no extra query; revocation still takes effect at once, because every request's
/// transaction re-checks its token in the statement that sets its scope (Database.transaction).
struct Authentication: RouterMiddleware {
    typealias Context = APIRequestContext
    let database: Database
    let grants: GrantCache

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem(.unauthenticated, detail: "this endpoint needs a token: send Authorization: Bearer TOKEN",
                          hint: "tokens are issued with: registry token issue --role ROLE")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem(.unauthenticated, detail: "the Authorization header must be Bearer TOKEN")
        }
        let secret = String(parts[1]).trimmingCharacters(in: .whitespaces)
        let hash = Tokens.hash(secret)
        var context = context
        if let cached = grants.grant(for: hash) {
            context.grant = cached
        } else if let grant = try await database.read({ tx in try await tx.tokens.grant(forSecret: secret) }) {
            grants.remember(grant, for: hash)
            context.grant = grant
        } else {
            throw Problem(.unauthenticated, detail: "this token is not known to the registry or was revoked")
        }
        context.logger[metadataKey: "token"] = "\(context.grant!.tokenID)"
        do {
            return try await next(request, context)
        } catch let error as RegistryError where error.code == .unauthenticated {
            grants.forget(hash)
            throw error
        }
    }
}

/// Grants by token hash, for a short time.
final class GrantCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [[UInt8]: (grant: TokenGrant, until: ContinuousClock.Instant)] = [:]
    private let lifetime: Duration

    init(lifetime: Duration = .seconds(60)) { self.lifetime = lifetime }

    func grant(for hash: [UInt8]) -> TokenGrant? {
        lock.withLock {
            guard let entry = entries[hash] else { return nil }
            guard entry.until > .now else { entries[hash] = nil; return nil }
            return entry.grant
        }
    }

    func remember(_ grant: TokenGrant, for hash: [UInt8]) {
        lock.withLock {
            if entries.count > 10_000 { entries.removeAll() }
            entries[hash] = (grant, .now + lifetime)
        }
    }

    func forget(_ hash: [UInt8]) { _ = lock.withLock { entries.removeValue(forKey: hash) } }
}

/// Lets through only tokens of the given roles; others get 403.
struct RequireRole: RouterMiddleware {
    typealias Context = APIRequestContext
    let roles: Set<TokenRole>

    init(_ roles: TokenRole...) { self.roles = Set(roles) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let grant = try context.requireGrant()
        guard roles.contains(grant.role) else {
            throw Problem(.forbidden, detail: "a \(grant.role.rawValue) token may not use \(request.method.rawValue) \(context.endpointPath ?? request.uri.path); it is for \(roles.map(\.rawValue).sorted().joined(separator: " or ")) tokens")
        }
        return try await next(request, context)
    }
}
