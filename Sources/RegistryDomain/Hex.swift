/// Lower-case hexadecimal text of bytes: pseudonyms, checksums, ids. By hand rather than
/// `String(format: "%02x")`, which costs microseconds a byte in Foundation's formatter (a third of
/// a bulk import's time went there).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func string<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
