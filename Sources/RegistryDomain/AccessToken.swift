/// What an API token may do.
public enum TokenRole: String, Codable, CaseIterable, Sendable {
    /// A designated institution's systems and staff: its own patients, read and write.
    case institution
    /// Ministry, safety agency, review committee: reports and registry-wide aggregates, no patient rows.
    case regulator
    /// The registry's operator: institutions, products, plans and protocols.
    case admin

    /// Parses a role or lists the allowed ones.
    public static func parse(_ text: String, field: String = "role") throws(RegistryError) -> TokenRole {
        guard let role = TokenRole(rawValue: text) else {
            throw .invalid(field, "'\(text)' is not a role; allowed: institution, regulator, admin")
        }
        return role
    }
}

/// An API token as listed: never the token itself, which is shown once when issued.
public struct AccessToken: Codable, Equatable, Sendable {
    public var id: Int
    /// The token's first characters, to tell tokens apart.
    public var prefix: String
    public var role: TokenRole
    /// The institution an institution token acts for.
    public var institutionCode: String?
    public var label: String?
    /// ISO 8601, UTC.
    public var createdAt: String
    /// ISO 8601, UTC; nil while the token is valid.
    public var revokedAt: String?

    public init(id: Int, prefix: String, role: TokenRole, institutionCode: String?, label: String?, createdAt: String, revokedAt: String?) {
        self.id = id; self.prefix = prefix; self.role = role; self.institutionCode = institutionCode
        self.label = label; self.createdAt = createdAt; self.revokedAt = revokedAt
    }
}

/// A validated request for a token.
public struct NewAccessToken: Sendable, Equatable {
    public var role: TokenRole
    public var institutionCode: String?
    public var label: String?

    /// An institution token needs its institution; regulator and admin tokens take none.
    public init(role: String, institution: String?, label: String?) throws(RegistryError) {
        self.role = try TokenRole.parse(role)
        switch (self.role, institution) {
        case (.institution, nil):
            throw .invalid("institution", "an institution token needs the institution it acts for")
        case (.institution, let code?):
            institutionCode = try Rules.institutionCode(code)
        case (_, nil):
            institutionCode = nil
        case (let role, _?):
            throw .invalid("institution", "a \(role.rawValue) token acts for no institution; give none")
        }
        if let label, !label.trimmingCharactersInWhitespace().isEmpty {
            self.label = try Rules.name(label, field: "label")
        } else {
            self.label = nil
        }
    }
}
