/// A value encoded with one more key beside its own, e.g. an administration with the follow-ups
/// it scheduled, or an enrolled patient with whether the call created it. Every front end's JSON uses it.
public struct WithKey<Base: Encodable & Sendable, Extra: Encodable & Sendable>: Encodable, Sendable {
    public var base: Base
    public var key: String
    public var extra: Extra

    public init(base: Base, key: String, extra: Extra) {
        self.base = base; self.key = key; self.extra = extra
    }

    public func encode(to encoder: any Encoder) throws {
        try base.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(extra, forKey: Key(stringValue: key))
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
