import Hummingbird
import RegistryDomain
import Logging

/// What a web request carries from the middleware to its page: the language the page is shown in.
/// The signed-in person is not here: each page's transaction checks the session cookie in the
/// statement that opens it (`Database.transaction(session:)`), so a revoked or expired session is
/// refused from that moment on.
public struct WebContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `LanguageMiddleware` from the `lang` cookie, else from Accept-Language.
    public var language: Language = .ko

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }
}
