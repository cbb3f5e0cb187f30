import Foundation
import RegistryDomain
import Logging

/// Log lines as JSON, one object per line on standard output, for journald and log shippers:
/// `{"ts", "level", "label", "message", ...metadata}`. Request lines carry `hb.request.id`, the
/// id echoed to clients in `X-Request-Id`. Written by hand: JSONSerialization and Date formatting
/// took an eighth of the server's CPU at one line per request.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public let label: String
    private static let lock = NSLock()

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(event.level.rawValue)\",\"label\":"
        Self.append(label, to: &line)
        line += ",\"message\":"
        Self.append(event.message.description, to: &line)
        let fields = event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        for (key, value) in fields where !["ts", "level", "label", "message"].contains(key) {
            line += ","
            Self.append(key, to: &line)
            line += ":"
            Self.append(value, to: &line)
        }
        line += "}\n"
        Self.lock.withLock { FileHandle.standardOutput.write(Data(line.utf8)) }
    }

    /// UTC, milliseconds: 2026-11-25T04:21:44.132Z.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ n: Int32, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }

    static func append(_ value: Logger.MetadataValue, to line: inout String) {
        switch value {
        case .string(let s): append(s, to: &line)
        case .stringConvertible(let c): append(c.description, to: &line)
        case .array(let items):
            line += "["
            for (i, item) in items.enumerated() { if i > 0 { line += "," }; append(item, to: &line) }
            line += "]"
        case .dictionary(let d):
            line += "{"
            for (i, (k, v)) in d.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { line += "," }
                append(k, to: &line); line += ":"; append(v, to: &line)
            }
            line += "}"
        }
    }

    /// A JSON string literal.
    static func append(_ text: String, to line: inout String) { JSONString.append(text, to: &line) }
}
