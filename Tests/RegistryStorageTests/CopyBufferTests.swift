import NIOCore
import RegistryDomain
import RegistryStorage
import Testing

/// COPY text format as PostgreSQL reads it; the real round trip is the demo's load (DemoTests).
@Suite("COPY rows")
struct CopyBufferTests {
    func text(_ b: CopyBuffer) -> String { String(buffer: b.buffer) }

    @Test("integers, text with and without escapes, dates, NULL and bytea make the bytes COPY expects")
    func encodesFields() {
        var b = CopyBuffer(capacity: 64)
        b.add(0); b.add(-42); b.add(Int.max); b.add(Int.min); b.endRow()
        b.add("plain"); b.add("tab\there"); b.add("a\\b"); b.add("line\nbreak\r"); b.add("한국어"); b.add(""); b.endRow()
        b.add(LocalDate(year: 2024, month: 2, day: 29)!); b.addNull(); b.add(bytea: [0x00, 0xAB, 0xFF]); b.endRow()
        #expect(text(b) == "0\t-42\t9223372036854775807\t-9223372036854775808\n"
                        + "plain\ttab\\there\ta\\\\b\tline\\nbreak\\r\t한국어\t\n"
                        + "2024-02-29\t\\N\t\\\\x00abff\n")
        #expect(b.rows == 3)
    }
}
