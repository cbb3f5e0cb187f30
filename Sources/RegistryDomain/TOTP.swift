import Crypto
import Foundation

/// Time-based one-time passwords (RFC 6238) as authenticator apps make them: HMAC-SHA1, 30-second
/// steps, 6 digits. The optional second factor of a person's sign-in.
public enum TOTP {
    /// Seconds per step.
    public static let period = 30
    /// Digits per code.
    public static let digits = 6
    /// Steps either side of now that are accepted: a phone's clock a little off, a code typed slowly.
    public static let window = 1

    /// A new secret: 20 random bytes (160 bits, RFC 4226's recommendation for HMAC-SHA1).
    public static func newSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// The step `date` falls in.
    public static func step(at date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / Double(period)).rounded(.down))
    }

    /// The code for `step` (RFC 4226's HOTP with the step as counter), `digits` long with leading zeros.
    public static func code(secret: [UInt8], step: Int64, digits: Int = digits) -> String {
        var counter = UInt64(bitPattern: step).bigEndian
        let message = withUnsafeBytes(of: &counter) { Array($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: secret)))
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let binary = (UInt32(mac[offset] & 0x7f) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }

    /// The code at `date`.
    public static func code(secret: [UInt8], at date: Date, digits: Int = digits) -> String {
        code(secret: secret, step: step(at: date), digits: digits)
    }

    /// The step whose code `code` is, within `window` steps of `date`; nil when it matches none.
    /// Spaces in the code are ignored (apps show `123 456`).
    public static func matchingStep(_ code: String, secret: [UInt8], at date: Date, window: Int = window) -> Int64? {
        let typed = code.filter { !$0.isWhitespace }
        guard typed.count == digits, typed.allSatisfy(\.isASCII), typed.allSatisfy(\.isNumber) else { return nil }
        let now = step(at: date)
        for delta in -Int64(window)...Int64(window) where constantTimeEqual(Self.code(secret: secret, step: now + delta), typed) {
            return now + delta
        }
        return nil
    }

    /// The `otpauth://` URI an authenticator app reads from a QR code.
    public static func uri(secret: [UInt8], account: String, issuer: String = "LTFU Registry") -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let i = issuer.addingPercentEncoding(withAllowedCharacters: allowed) ?? issuer
        let a = account.addingPercentEncoding(withAllowedCharacters: allowed) ?? account
        return "otpauth://totp/\(i):\(a)?secret=\(Base32.encode(secret))&issuer=\(i)&algorithm=SHA1&digits=\(digits)&period=\(period)"
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// RFC 4648 base32 (A–Z, 2–7), as authenticator apps take a TOTP secret: unpadded when encoding;
/// decoding ignores case, spaces, hyphens and padding.
public enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var buffer: UInt32 = 0, bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes, or nil when a character is not base32.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0, bits = 0
        for c in text.uppercased().utf8 where c != UInt8(ascii: "=") && c != UInt8(ascii: " ") && c != UInt8(ascii: "-") {
            guard let value = alphabet.firstIndex(of: c) else { return nil }
            buffer = (buffer << 5) | UInt32(value)
            bits += 5
            if bits >= 8 {
                out.append(UInt8((buffer >> UInt32(bits - 8)) & 0xff))
                bits -= 8
            }
        }
        return out
    }
}
