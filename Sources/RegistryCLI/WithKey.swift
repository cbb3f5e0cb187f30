/// A value printed as JSON with one more key beside its own, e.g. an administration with the
/// follow-ups it scheduled, or an enrolled patient with whether the call created it.
struct WithKey<Base: Encodable, Extra: Encodable>: Encodable {
    var base: Base
    var key: String
    var extra: Extra

    func encode(to encoder: any Encoder) throws {
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
