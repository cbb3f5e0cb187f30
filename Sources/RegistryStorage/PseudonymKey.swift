import Foundation
import RegistryDomain

/// The secret behind pseudonyms, kept apart from the data (PIPA art. 28-2): from the environment,
/// or a key file under the registry home created on first use, readable by its owner only.
public enum PseudonymKey {
    /// The environment variable that, when set, holds the key as 64+ hex digits.
    public static let environmentVariable = "REGISTRY_PSEUDONYM_KEY"

    /// Loads the key, creating the file with 32 random bytes if there is none yet.
    public static func load(home: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Pseudonymizer {
        if let hex = environment[environmentVariable], !hex.isEmpty {
            guard let data = Data(hex: hex), data.count >= 32 else {
                throw RegistryError(.configuration, field: environmentVariable, "must be at least 64 hex digits (32 bytes)")
            }
            return try Pseudonymizer(secret: data)
        }
        let file = home.appendingPathComponent("pseudonym.key")
        if !FileManager.default.fileExists(atPath: file.path) {
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            var bytes = [UInt8](repeating: 0, count: 32)
            var generator = SystemRandomNumberGenerator()
            for i in bytes.indices { bytes[i] = generator.next() }
            let text = Hex.string(bytes) + "\n"
            // O_EXCL: two first uses at once must not write two different keys.
            let fd = open(file.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if fd >= 0 {
                _ = text.withCString { write(fd, $0, strlen($0)) }
                close(fd)
            } else if errno != EEXIST {
                throw RegistryError(.configuration, field: "pseudonym-key", "cannot create \(file.path): \(String(cString: strerror(errno)))")
            }
        }
        let text = try String(contentsOf: file, encoding: .utf8).trimmingCharactersInWhitespace()
        guard let data = Data(hex: text), data.count >= 32 else {
            throw RegistryError(.configuration, field: "pseudonym-key", "\(file.path) does not hold a key of 64+ hex digits",
                                hint: "restore it from backup: without the original key, enrolments can no longer find existing patients")
        }
        return try Pseudonymizer(secret: data)
    }
}

extension Data {
    /// Bytes from an even number of hex digits, or nil.
    init?(hex: String) {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = Data.nibble(chars[i]), let lo = Data.nibble(chars[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            i += 2
        }
        self.init(bytes)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
