import Hummingbird
import Logging
import RegistryStorage

/// What a request carries from the middleware to its handler: once authenticated, what its
/// token grants.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `Authentication` for every route that needs a token.
    public var grant: TokenGrant?
    /// The peer's address (without the port), for limits on failed attempts.
    public var clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// The grant of an authenticated request (routes behind `Authentication` always have one).
    func requireGrant() throws -> TokenGrant {
        guard let grant else { throw Problem(.unauthenticated, detail: "this endpoint needs a token: send Authorization: Bearer TOKEN") }
        return grant
    }
}
