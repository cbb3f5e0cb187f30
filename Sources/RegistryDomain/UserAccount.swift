/// What a person's account may do in the web application.
public enum UserRole: String, Sendable, Codable, CaseIterable {
    /// A designated institution's research coordinator: that institution's patients, read and write.
    case coordinator
    /// Ministry, safety agency, review committee: reports and registry-wide aggregates, no patient rows.
    case regulator
    /// The registry's operator: institutions, products, plans, protocols and people's accounts.
    case admin

    /// Parses a role or lists the allowed ones.
    public static func parse(_ text: String, field: String = "role") throws(RegistryError) -> UserRole {
        guard let role = UserRole(rawValue: text.trimmingCharactersInWhitespace().lowercased()) else {
            throw .invalid(field, "'\(text)' is not a role; allowed: coordinator, regulator, admin")
        }
        return role
    }
}

/// A validated request for a person's account.
public struct NewUser: Sendable, Equatable {
    /// Lower-case, as `UserRules.username` gives it.
    public var username: String
    public var role: UserRole
    /// The institution a coordinator works for; nil for regulators and admins.
    public var institutionCode: String?

    /// Checks every field, refusing once with every field at fault: the username's shape, the role,
    /// and that a coordinator names an institution while regulators and admins name none.
    public init(username: String, role: String, institutionCode: String?) throws(RegistryError) {
        var checks = FieldChecks()
        let name = checks.check { () throws(RegistryError) in try UserRules.username(username) }
        let role = checks.check { () throws(RegistryError) in try UserRole.parse(role) }
        let code = checks.check { () throws(RegistryError) in try UserRules.institution(institutionCode, role: role) }
        try checks.finish()
        self.username = name!
        self.role = role!
        self.institutionCode = code ?? nil
    }

    /// `init(username:role:institutionCode:)` with the role already parsed.
    public init(username: String, role: UserRole, institutionCode: String?) throws(RegistryError) {
        try self.init(username: username, role: role.rawValue, institutionCode: institutionCode)
    }
}

/// The rules for an account's own fields.
public enum UserRules {
    /// 3–32 characters of a–z, 0–9, `.`, `_` and `-`, trimmed and lower-cased: `Kim.J` signs in as `kim.j`.
    public static func username(_ text: String, field: String = "username") throws(RegistryError) -> String {
        let name = text.trimmingCharactersInWhitespace().lowercased()
        let allowed = name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || ".-_".unicodeScalars.contains($0) }
        guard (3...32).contains(name.unicodeScalars.count), allowed else {
            throw .invalid(field, "'\(text)' is not a username; expected 3–32 characters of a–z, 0–9, '.', '_' and '-'")
        }
        return name
    }

    /// A coordinator works for exactly one institution; regulators and admins for none. Nil role
    /// (refused elsewhere): only the code's shape is checked.
    public static func institution(_ code: String?, role: UserRole?, field: String = "institution") throws(RegistryError) -> String? {
        let code = code.map { $0.trimmingCharactersInWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
        switch (role, code) {
        case (.coordinator?, nil):
            throw .invalid(field, "a coordinator works for an institution; give its code")
        case (let role?, _?) where role != .coordinator:
            throw .invalid(field, "a \(role.rawValue) works for no institution; give none")
        case (_, let code?):
            return try Rules.institutionCode(code, field: field)
        case (_, nil):
            return nil
        }
    }
}

/// What a new password must be. Length is what makes a password strong (NIST SP 800-63B): no rules
/// about character classes, only a floor, a ceiling (bcrypt reads 72 bytes; more is kept
/// from being a way to slow the server) and two obvious weaknesses.
public enum PasswordPolicy {
    public static let minimumLength = 12
    public static let maximumLength = 128

    /// Refuses once, in the field `new_password`, with every rule the password breaks.
    public static func check(_ password: String, username: String, field: String = "new_password") throws(RegistryError) {
        var checks = FieldChecks()
        if !(minimumLength...maximumLength).contains(password.count) {
            checks.refuse(.invalid(field, "a password must be \(minimumLength)–\(maximumLength) characters long; this one has \(password.count)"))
        }
        let name = username.trimmingCharactersInWhitespace().lowercased()
        if !name.isEmpty, password.lowercased().contains(name) {
            checks.refuse(.invalid(field, "a password must not contain the username"))
        }
        if let first = password.first, password.allSatisfy({ $0 == first }) {
            checks.refuse(.invalid(field, "a password must not be one character repeated"))
        }
        try checks.finish()
    }
}

/// The password an administrator hands a person with a new or reset account: used once, then
/// changed at the first sign-in.
public enum OneTimePassword {
    /// Lower-case letters and digits that cannot be mistaken for each other when read aloud or
    /// copied by hand (no i, l, o, 0, 1).
    public static let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")

    /// Four groups of four, e.g. `k7pq-x3mz-ta9f-2hwn`: about 79 bits.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// `generate()` from a given source of randomness (tests).
    public static func generate<R: RandomNumberGenerator>(using generator: inout R) -> String {
        (0..<4).map { _ in String((0..<4).map { _ in alphabet.randomElement(using: &generator)! }) }.joined(separator: "-")
    }
}
