/// What kind of therapy a product is; decides whether the Act covers it and how long patients
/// are followed.
public enum Modality: String, Codable, CaseIterable, Sendable {
    case somaticCell = "somatic-cell"
    case stemCell = "stem-cell"
    case geneTherapy = "gene-therapy"
    case genomeEditing = "genome-editing"
    case tissueEngineered = "tissue-engineered"
    case xenogeneic
    case minimallyManipulated = "minimally-manipulated"

    /// The long-term follow-up class, or nil when the Act does not cover the modality.
    public var followUpClass: FollowUpClass? {
        switch self {
        case .somaticCell, .stemCell, .tissueEngineered: return .cell
        case .geneTherapy, .genomeEditing: return .gene
        case .xenogeneic: return .xenogeneic
        case .minimallyManipulated: return nil
        }
    }

    /// Refuses modalities outside the Act (Art. 2(1)): minimally manipulated cells such as cord
    /// blood fall under the Cord Blood Act instead.
    public func requireInScope(field: String = "modality") throws(RegistryError) -> FollowUpClass {
        guard let cls = followUpClass else {
            throw RegistryError(.outOfScope, field: field,
                "minimally manipulated cells (simple separation, washing, freezing or thawing, e.g. cord blood) are outside the Advanced Regenerative Bio Act (Art. 2(1)) and cannot be registered or treated here",
                hint: "cord blood is governed by the Cord Blood Act; allowed modalities: \(Modality.inScope.map(\.rawValue).joined(separator: ", "))")
        }
        return cls
    }

    /// The modalities the Act covers.
    public static var inScope: [Modality] { allCases.filter { $0 != .minimallyManipulated } }

    /// Parses a modality name or lists the allowed ones.
    public static func parse(_ text: String, field: String = "modality") throws(RegistryError) -> Modality {
        guard let m = Modality(rawValue: text) else {
            throw .invalid(field, "'\(text)' is not a modality; allowed: \(Modality.inScope.map(\.rawValue).joined(separator: ", "))")
        }
        return m
    }
}

/// The MFDS long-term follow-up designation (Act Art. 30): how long a product's patients are followed.
public enum FollowUpClass: String, Codable, CaseIterable, Sendable {
    /// Stem-cell, somatic-cell and tissue-engineered products: 5 years.
    case cell
    /// Gene therapy and genome editing: 15 years (also the FDA's figure for integrating vectors).
    case gene
    /// Xenotransplantation: 30 years.
    case xenogeneic

    /// The default length of follow-up in years.
    public var years: Int {
        switch self {
        case .cell: return 5
        case .gene: return 15
        case .xenogeneic: return 30
        }
    }
}

/// A registered advanced regenerative product.
public struct Product: Codable, Equatable, Sendable {
    public var id: Int
    public var code: String
    public var name: String
    public var manufacturer: String
    public var modality: Modality
    public var followUpClass: FollowUpClass
    public var followUpYears: Int

    public init(id: Int, code: String, name: String, manufacturer: String, modality: Modality, followUpClass: FollowUpClass, followUpYears: Int) {
        self.id = id; self.code = code; self.name = name; self.manufacturer = manufacturer
        self.modality = modality; self.followUpClass = followUpClass; self.followUpYears = followUpYears
    }
}

/// A validated request to register a product.
public struct NewProduct: Sendable, Equatable {
    public var code: String
    public var name: String
    public var manufacturer: String
    public var modality: Modality
    public var followUpClass: FollowUpClass

    /// Validates every field, refusing once with every field at fault; refuses out-of-scope modalities.
    public init(code: String, name: String, manufacturer: String, modality: String) throws(RegistryError) {
        var checks = FieldChecks()
        let m = checks.check { () throws(RegistryError) in try Modality.parse(modality) }
        let cls = m.flatMap { m in checks.check { () throws(RegistryError) in try m.requireInScope() } }
        let code = checks.check { () throws(RegistryError) in try Rules.productCode(code, field: "code") }
        let name = checks.check { () throws(RegistryError) in try Rules.name(name, field: "name") }
        let manufacturer = checks.check { () throws(RegistryError) in try Rules.name(manufacturer, field: "manufacturer") }
        try checks.finish()
        self.modality = m!
        self.followUpClass = cls!
        self.code = code!
        self.name = name!
        self.manufacturer = manufacturer!
    }
}
