import Crypto
import Foundation

/// Turns an institution's local patient key into the registry's pseudonym.
///
/// HMAC-SHA256 under a secret key kept outside the database: the same institution and local key
/// always give the same pseudonym, and nobody holding only the database can reverse or recompute it.
public struct Pseudonymizer: Sendable {
    // Kept as bytes: SymmetricKey is not Sendable in this swift-crypto release.
    private let secret: [UInt8]

    /// The secret must be at least 32 bytes.
    public init(secret: Data) throws(RegistryError) {
        guard secret.count >= 32 else {
            throw RegistryError(.configuration, field: "pseudonym-key", "the pseudonym key must be at least 32 bytes; got \(secret.count)")
        }
        self.secret = Array(secret)
    }

    /// The pseudonym: lowercase hex of HMAC-SHA256(institution code, U+001F, local key).
    public func pseudonym(institutionCode: String, localID: String) -> String {
        var message = Data(institutionCode.utf8)
        message.append(0x1F)  // unit separator: "AB-1"+"23" and "AB-12"+"3" never collide
        message.append(contentsOf: localID.utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret))
        return Hex.string(mac)
    }
}
