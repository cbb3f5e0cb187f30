/// An error a user can act on: what was wrong, which field, what is allowed.
///
/// Every refusal in the registry is one of these; the command line prints `message` (and `hint`)
/// on stderr, and the HTTP layer maps `code` to a problem document.
public struct RegistryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kind of refusal, extensible like PostgresNIO's error codes.
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A value has the wrong shape or is out of range.
        public static let invalid = Code(rawValue: "invalid")
        /// A referenced record does not exist (or is not visible to the caller).
        public static let notFound = Code(rawValue: "not-found")
        /// The request contradicts the registry's current state.
        public static let conflict = Code(rawValue: "conflict")
        /// The request is outside the Advanced Regenerative Bio Act.
        public static let outOfScope = Code(rawValue: "out-of-scope")
        /// The database or another needed part cannot be reached.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The registry's own set-up is wrong (schema changed, key missing).
        public static let configuration = Code(rawValue: "configuration")
        /// The caller's credentials are missing, unknown or revoked.
        public static let unauthenticated = Code(rawValue: "unauthenticated")
        /// The caller is known but its role may not do this.
        public static let forbidden = Code(rawValue: "forbidden")
    }

    /// The kind of refusal.
    public var code: Code
    /// The input field at fault (a command-line option name without dashes, e.g. `birth-year`).
    public var field: String?
    /// One sentence: what was wrong and what is allowed.
    public var message: String
    /// What to do about it, when there is something to suggest.
    public var hint: String?

    /// Makes an error.
    public init(_ code: Code, field: String? = nil, _ message: String, hint: String? = nil) {
        self.code = code
        self.field = field
        self.message = message
        self.hint = hint
    }

    /// A shape or range error for one field.
    public static func invalid(_ field: String, _ message: String, hint: String? = nil) -> RegistryError {
        RegistryError(.invalid, field: field, message, hint: hint)
    }

    /// A missing referenced record.
    public static func notFound(_ field: String, _ message: String, hint: String? = nil) -> RegistryError {
        RegistryError(.notFound, field: field, message, hint: hint)
    }

    /// A contradiction with the current state.
    public static func conflict(_ field: String?, _ message: String, hint: String? = nil) -> RegistryError {
        RegistryError(.conflict, field: field, message, hint: hint)
    }

    public var description: String {
        var text = field.map { "\($0): \(message)" } ?? message
        if let hint { text += " (\(hint))" }
        return text
    }
}
