import Foundation
import RegistryDomain
import Testing

/// Issue #15: the rules of people's accounts, without a database.
@Suite("People's accounts: usernames, passwords, throttle, TOTP")
struct UserAccountRulesTests {
    static func fields(_ error: RegistryError?) -> [String] { error?.all.compactMap(\.field) ?? [] }

    @Test("a new account is lower-cased and checked whole: every field at fault in one refusal")
    func newUser() throws {
        let kim = try NewUser(username: "  Kim.J ", role: "coordinator", institutionCode: "ARM-001")
        #expect(kim.username == "kim.j" && kim.role == .coordinator && kim.institutionCode == "ARM-001")
        let lee = try NewUser(username: "lee_mfds-2", role: .regulator, institutionCode: nil)
        #expect(lee.institutionCode == nil)
        #expect(try NewUser(username: "ops", role: "admin", institutionCode: " ").institutionCode == nil)

        let all = refusal { _ = try NewUser(username: "k!", role: "nurse", institutionCode: "ARM-1") }
        #expect(Self.fields(all) == ["username", "role", "institution"])
        #expect(all?.all[1].message == "'nurse' is not a role; allowed: coordinator, regulator, admin")
        // The role decides whether an institution belongs.
        #expect(Self.fields(refusal { _ = try NewUser(username: "kim.j", role: "coordinator", institutionCode: nil) }) == ["institution"])
        #expect(Self.fields(refusal { _ = try NewUser(username: "lee", role: "regulator", institutionCode: "ARM-001") }) == ["institution"])
        #expect(Self.fields(refusal { _ = try NewUser(username: "ab", role: "admin", institutionCode: "ARM-001") }) == ["username", "institution"])
        #expect(Self.fields(refusal { _ = try NewUser(username: String(repeating: "a", count: 33), role: "admin", institutionCode: nil) }) == ["username"])
        #expect(Self.fields(refusal { _ = try NewUser(username: "kim j", role: "admin", institutionCode: nil) }) == ["username"])
        #expect(Self.fields(refusal { _ = try NewUser(username: "김지은", role: "admin", institutionCode: nil) }) == ["username"])
        #expect(try UserRules.username(String(repeating: "z", count: 32)).count == 32)
    }

    @Test("a password: 12-128 characters, not the username, not one character repeated, every rule broken named in new_password")
    func passwordPolicy() throws {
        try PasswordPolicy.check("correct horse battery", username: "kim.j")
        try PasswordPolicy.check(String(repeating: "ab", count: 64), username: "kim.j")
        let short = refusal { try PasswordPolicy.check("short", username: "kim.j") }
        #expect(Self.fields(short) == ["new_password"])
        #expect(short?.message.contains("12–128 characters") == true)
        #expect(Self.fields(refusal { try PasswordPolicy.check(String(repeating: "x", count: 129) + "y", username: "kim.j") }) == ["new_password"])
        #expect(Self.fields(refusal { try PasswordPolicy.check("my name is KIM.J ok", username: "kim.j") }) == ["new_password"])
        // Three rules broken at once: three refusals.
        let three = refusal { try PasswordPolicy.check("aaa", username: "aaa") }
        #expect(Self.fields(three) == ["new_password", "new_password", "new_password"])
        #expect(three?.all.map(\.message).joined().contains("repeated") == true)
    }

    @Test("a one-time password: four groups of four from an alphabet without look-alikes")
    func oneTimePassword() {
        var seen = Set<String>()
        for _ in 0..<200 {
            let p = OneTimePassword.generate()
            #expect(p.count == 19)
            let groups = p.split(separator: "-")
            #expect(groups.count == 4 && groups.allSatisfy { $0.count == 4 })
            #expect(p.replacingOccurrences(of: "-", with: "").allSatisfy { OneTimePassword.alphabet.contains($0) })
            #expect(!p.contains { "il1o0".contains($0) })
            seen.insert(p)
        }
        #expect(seen.count == 200)
    }

    @Test("failed sign-ins: the first costs nothing, then 1, 2, 4, 8 s; the fifth in a row locks for 15 minutes")
    func throttle() {
        #expect((0...7).map(SignInThrottle.delay(afterFailures:)) == [.zero, .zero, .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        #expect((0...4).allSatisfy { SignInThrottle.lockedUntil(failures: $0, lastFailure: at) == nil })
        #expect(SignInThrottle.lockedUntil(failures: 5, lastFailure: at) == at.addingTimeInterval(900))
        #expect(SignInThrottle.lockedUntil(failures: 6, lastFailure: at) == at.addingTimeInterval(900))
    }

    /// RFC 6238 appendix B, SHA-1 column: the seed is the ASCII of "12345678901234567890".
    static let vectors: [(time: TimeInterval, code: String)] = [
        (59, "94287082"), (1_111_111_109, "07081804"), (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"), (2_000_000_000, "69279037"), (20_000_000_000, "65353130"),
    ]

    @Test("TOTP gives RFC 6238's test vectors (8 digits) and their last 6 digits as apps show them")
    func totpVectors() {
        let seed = Array("12345678901234567890".utf8)
        for v in Self.vectors {
            let at = Date(timeIntervalSince1970: v.time)
            #expect(TOTP.code(secret: seed, at: at, digits: 8) == v.code, "at \(v.time)")
            #expect(TOTP.code(secret: seed, at: at) == String(v.code.suffix(6)), "at \(v.time)")
        }
    }

    @Test("a TOTP code is accepted one step either side of now, not two; spaces are ignored, other text is not a code")
    func totpWindow() {
        let seed = Array("12345678901234567890".utf8)
        let now = Date(timeIntervalSince1970: 1_111_111_111)
        let step = TOTP.step(at: now)
        for delta in [-1, 0, 1] as [Int64] {
            #expect(TOTP.matchingStep(TOTP.code(secret: seed, step: step + delta), secret: seed, at: now) == step + delta)
        }
        #expect(TOTP.matchingStep(TOTP.code(secret: seed, step: step - 2), secret: seed, at: now) == nil)
        #expect(TOTP.matchingStep(TOTP.code(secret: seed, step: step + 2), secret: seed, at: now) == nil)
        let code = TOTP.code(secret: seed, step: step)
        #expect(TOTP.matchingStep(String(code.prefix(3)) + " " + String(code.dropFirst(3)), secret: seed, at: now) == step)
        #expect(TOTP.matchingStep("12345", secret: seed, at: now) == nil)
        #expect(TOTP.matchingStep("abcdef", secret: seed, at: now) == nil)
    }

    @Test("base32 (RFC 4648 vectors) round-trips; the otpauth URI names the issuer, the account and the secret")
    func base32AndURI() {
        let vectors = ["": "", "f": "MY", "fo": "MZXQ", "foo": "MZXW6", "foob": "MZXW6YQ", "fooba": "MZXW6YTB", "foobar": "MZXW6YTBOI"]
        for (plain, encoded) in vectors {
            #expect(Base32.encode(Array(plain.utf8)) == encoded)
            #expect(Base32.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base32.decode("mzxw 6ytb-oi======") == Array("foobar".utf8))
        #expect(Base32.decode("MZ1") == nil)
        let secret = TOTP.newSecret()
        #expect(secret.count == 20 && Base32.decode(Base32.encode(secret)) == secret)
        let uri = TOTP.uri(secret: Array("12345678901234567890".utf8), account: "kim.j")
        #expect(uri == "otpauth://totp/LTFU%20Registry:kim.j?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=LTFU%20Registry&algorithm=SHA1&digits=6&period=30")
    }
}
