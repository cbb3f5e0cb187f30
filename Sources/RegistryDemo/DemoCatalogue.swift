import RegistryDomain

/// The fixed reference data of the synthetic registry: institutions, products and indications
/// shaped like Korea's (141 designated institutions by May 2025; products of every class).
enum DemoCatalogue {
    static let institutionCount = 141

    static let cities = ["Seoul", "Busan", "Incheon", "Daegu", "Daejeon", "Gwangju", "Ulsan", "Suwon", "Seongnam", "Goyang",
                         "Yongin", "Cheongju", "Jeonju", "Cheonan", "Changwon", "Pohang", "Gimhae", "Wonju", "Jeju", "Gangneung"]
    static let kinds = ["University Hospital", "Medical Center", "General Hospital", "Cancer Center", "Specialty Clinic",
                        "Orthopedic Hospital", "Rehabilitation Hospital"]

    struct ProductSpec {
        var code: String
        var name: String
        var manufacturer: String
        var modality: Modality
        var indications: [String]
        var dose: String
        var fee: ClosedRange<Int>
    }

    static let products: [ProductSpec] = [
        .init(code: "MSC-KNEE-1", name: "Autologous adipose MSC (knee)", manufacturer: "Hanul Cell", modality: .stemCell, indications: ["M17.0", "M17.1"], dose: "5e7 cells", fee: 8_000_000...15_000_000),
        .init(code: "MSC-KNEE-2", name: "Allogeneic cord-derived MSC (knee)", manufacturer: "Gaon Bio", modality: .stemCell, indications: ["M17.0", "M17.9"], dose: "1e7 cells/mL", fee: 6_000_000...12_000_000),
        .init(code: "MSC-RA-1", name: "Bone-marrow MSC (rheumatoid)", manufacturer: "Saebom Therapeutics", modality: .stemCell, indications: ["M05.9", "M06.9"], dose: "1e6 cells/kg", fee: 10_000_000...25_000_000),
        .init(code: "MSC-ALS-1", name: "Autologous MSC intrathecal (ALS)", manufacturer: "Corestem Demo", modality: .stemCell, indications: ["G12.2"], dose: "1e6 cells/kg", fee: 20_000_000...40_000_000),
        .init(code: "MSC-MS-1", name: "MSC for multiple sclerosis", manufacturer: "Hanul Cell", modality: .stemCell, indications: ["G35"], dose: "2e6 cells/kg", fee: 15_000_000...30_000_000),
        .init(code: "MSC-CROHN-1", name: "Adipose MSC (perianal fistula)", manufacturer: "Gaon Bio", modality: .stemCell, indications: ["K50.9", "K60.3"], dose: "1.2e8 cells", fee: 12_000_000...20_000_000),
        .init(code: "IPSC-PD-1", name: "iPSC dopaminergic progenitors", manufacturer: "Nuri Regenerative", modality: .stemCell, indications: ["G20"], dose: "5e6 cells", fee: 60_000_000...120_000_000),
        .init(code: "MSC-CARD-1", name: "Cardiac stem cells", manufacturer: "Saebom Therapeutics", modality: .stemCell, indications: ["I25.5", "I50.9"], dose: "1e8 cells", fee: 25_000_000...45_000_000),
        .init(code: "NK-1", name: "Autologous NK cells", manufacturer: "Green Cell Demo", modality: .somaticCell, indications: ["C22.0", "C34.9", "C16.9"], dose: "1e9 cells", fee: 5_000_000...10_000_000),
        .init(code: "DC-1", name: "Dendritic cell vaccine", manufacturer: "Green Cell Demo", modality: .somaticCell, indications: ["C71.9", "C61"], dose: "1e7 cells", fee: 8_000_000...18_000_000),
        .init(code: "CIK-1", name: "Cytokine-induced killer cells", manufacturer: "Arum Immuno", modality: .somaticCell, indications: ["C22.0", "C25.9"], dose: "6e9 cells", fee: 6_000_000...12_000_000),
        .init(code: "CHON-1", name: "Autologous chondrocytes", manufacturer: "Tego Bio", modality: .somaticCell, indications: ["M94.2", "M23.9"], dose: "1.2e7 cells", fee: 7_000_000...14_000_000),
        .init(code: "KERA-1", name: "Autologous keratinocyte sheet", manufacturer: "Tego Bio", modality: .tissueEngineered, indications: ["T20.3", "L89.3"], dose: "100 cm2", fee: 4_000_000...9_000_000),
        .init(code: "FIBRO-1", name: "Fibroblast dermal substitute", manufacturer: "Arum Immuno", modality: .tissueEngineered, indications: ["L97", "E11.5"], dose: "50 cm2", fee: 3_000_000...6_000_000),
        .init(code: "CART-19", name: "Anti-CD19 CAR-T", manufacturer: "Hanbit Gene", modality: .geneTherapy, indications: ["C83.3", "C91.0"], dose: "2e6 CAR+ cells/kg", fee: 300_000_000...460_000_000),
        .init(code: "CART-BCMA", name: "Anti-BCMA CAR-T", manufacturer: "Hanbit Gene", modality: .geneTherapy, indications: ["C90.0"], dose: "4.5e8 CAR+ cells", fee: 350_000_000...480_000_000),
        .init(code: "AAV-RPE65", name: "AAV2 RPE65 retinal gene therapy", manufacturer: "Seoul Vector", modality: .geneTherapy, indications: ["H35.5"], dose: "1.5e11 vg/eye", fee: 400_000_000...500_000_000),
        .init(code: "AAV-SMN1", name: "AAV9 SMN1 gene therapy", manufacturer: "Seoul Vector", modality: .geneTherapy, indications: ["G12.0"], dose: "1.1e14 vg/kg", fee: 450_000_000...500_000_000),
        .init(code: "LV-HGB", name: "Lentiviral beta-globin", manufacturer: "Hanbit Gene", modality: .geneTherapy, indications: ["D56.1"], dose: "5e6 CD34+ cells/kg", fee: 420_000_000...500_000_000),
        .init(code: "CRISPR-BCL11A", name: "CRISPR BCL11A enhancer edit", manufacturer: "Gyeol Edit", modality: .genomeEditing, indications: ["D57.1", "D56.1"], dose: "3e6 CD34+ cells/kg", fee: 450_000_000...500_000_000),
        .init(code: "CRISPR-TTR", name: "In vivo TTR knockout", manufacturer: "Gyeol Edit", modality: .genomeEditing, indications: ["E85.1"], dose: "0.3 mg/kg", fee: 400_000_000...480_000_000),
        .init(code: "XENO-ISLET", name: "Porcine islet xenotransplant", manufacturer: "Nuri Xeno", modality: .xenogeneic, indications: ["E10.9"], dose: "1e4 IEQ/kg", fee: 80_000_000...150_000_000),
        .init(code: "XENO-CORNEA", name: "Porcine corneal xenograft", manufacturer: "Nuri Xeno", modality: .xenogeneic, indications: ["H18.6"], dose: "1 graft", fee: 30_000_000...60_000_000),
    ]

    /// How many patients a product gets relative to the others: knee and cell products dominate,
    /// gene therapies are rarer, xenotransplants rarest.
    static func weight(_ p: ProductSpec) -> Double {
        switch p.modality {
        case .stemCell, .somaticCell: return p.code.hasPrefix("MSC-KNEE") ? 6 : 2
        case .tissueEngineered: return 1.5
        case .geneTherapy, .genomeEditing: return 1.8
        case .xenogeneic: return 0.3
        case .minimallyManipulated: return 0
        }
    }

    /// Yearly hazard of death by follow-up class (cancer CAR-T and rare disease weigh on gene therapy).
    static func yearlyDeathHazard(_ cls: FollowUpClass) -> Double {
        switch cls {
        case .cell: return 0.015
        case .gene: return 0.05
        case .xenogeneic: return 0.03
        }
    }
}
