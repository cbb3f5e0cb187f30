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
    let failures: FailedAttempts

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
        } else {
            // An address that has failed too often waits, unless the token was valid lately: a
            // guess costs no query then, and a site's valid tokens are never held up.
            if let wait = failures.waitBeforeTrying(from: context.clientAddress, tokenHash: hash),
               try await !failures.isActive(hash, reading: { try await database.read { tx in try await tx.tokens.activeHashes() } }) {
                var problem = Problem(.tooManyRequests, detail: "too many unknown tokens from this address; try again in \(wait) s",
                                      hint: "check the token: registry token list shows its prefix")
                problem.headers[.retryAfter] = "\(wait)"
                throw problem
            }
            guard let grant = try await database.read({ tx in try await tx.tokens.grant(forSecret: secret) }) else {
                failures.failed(from: context.clientAddress)
                throw Problem(.unauthenticated, detail: "this token is not known to the registry or was revoked")
            }
            grants.remember(grant, for: hash)
            failures.valid(tokenHash: hash)
            context.grant = grant
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

/// Failed token attempts per client address (`FailureBudget`), and the tokens found valid lately,
/// which are never held up.
final class FailedAttempts: @unchecked Sendable {
    private let lock = NSLock()
    private var budgets: [String: FailureBudget] = [:]
    private var valid: [[UInt8]: ContinuousClock.Instant] = [:]
    let perMinute: Int
    private let start = ContinuousClock.now

    init(perMinute: Int) { self.perMinute = perMinute }

    private var now: Double { (ContinuousClock.now - start) / .seconds(1) }

    /// Seconds the address must wait before another unknown token is looked up; nil: go ahead.
    func waitBeforeTrying(from address: String, tokenHash: [UInt8]) -> Int? {
        lock.withLock {
            if let seen = valid[tokenHash], seen > .now - .seconds(86_400) { return nil }
            guard var budget = budgets[address] else { return nil }
            let t = now
            defer { budgets[address] = budget }
            return budget.allows(now: t) ? nil : budget.retryAfter(now: t)
        }
    }

    func failed(from address: String) {
        lock.withLock {
            let t = now
            if budgets.count > 100_000 { budgets = budgets.filter { var b = $0.value; return !b.isFull(now: t) } }
            var budget = budgets[address] ?? FailureBudget(perMinute: perMinute, now: t)
            budget.fail(now: t)
            budgets[address] = budget
        }
    }

    private var active: (hashes: Set<[UInt8]>, read: ContinuousClock.Instant)?

    /// Whether `hash` is a token not revoked, from the list of active tokens read at most every 5 s
    /// (only while some address is held back): a valid token is never held up, a guess costs no query.
    func isActive(_ hash: [UInt8], reading: () async throws -> Set<[UInt8]>) async throws -> Bool {
        if let cached = lock.withLock({ active }), cached.read > .now - .seconds(5) { return cached.hashes.contains(hash) }
        let hashes = try await reading()
        lock.withLock { active = (hashes, .now) }
        return hashes.contains(hash)
    }

    func valid(tokenHash: [UInt8]) {
        lock.withLock {
            if valid.count > 10_000 { valid.removeAll() }
            valid[tokenHash] = .now
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
