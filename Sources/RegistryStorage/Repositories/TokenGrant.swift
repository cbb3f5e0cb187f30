import RegistryDomain

/// A token just issued: the record, and the secret, which is shown this once and never stored.
public struct IssuedToken: Sendable {
    public var token: AccessToken
    public var secret: String
}

/// What a valid token grants, as the API checks it on each request.
public struct TokenGrant: Sendable, Equatable {
    public var tokenID: Int
    public var role: TokenRole
    public var institutionID: Int?
    public var institutionCode: String?
    public var label: String?

    /// The name the audit trail records for this token's changes.
    public var actor: String { "api:token-\(tokenID)" + (label.map { " (\($0))" } ?? "") }
    /// The row-level-security scope of this token's transactions.
    public var scope: AccessScope { AccessScope(tokenID: tokenID, institutionID: institutionID) }
}
