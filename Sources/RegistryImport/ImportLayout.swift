import RegistryDomain

/// What a file imports: one kind of record per file, in this order for a new site (patients before
/// their doses, doses before the visits that complete their follow-ups, status changes last).
public enum ImportKind: String, CaseIterable, Codable, Sendable {
    case patients, administrations, visits
    case adverseEvents = "adverse-events"
    case statusChanges = "status-changes"

    /// The columns of this kind's file, in the template's order.
    public var columns: [ImportColumn] { ImportLayout.columns(self) }
}

/// One column of an import file: its English header, the Korean header accepted in its place, and
/// the fields of the registry's refusals it answers for.
public struct ImportColumn: Sendable, Equatable {
    /// The header in English, as the template writes it.
    public let name: String
    /// The header in Korean, accepted in place of the English one.
    public let korean: String
    /// Whether every file must have the column (a value may still be optional).
    public let required: Bool
    /// What the column holds, for the documentation and the template's notes.
    public let help: String
    /// The fields the domain's refusals name for this column (`on` for a dose's date...).
    let fields: [String]

    init(_ name: String, _ korean: String, required: Bool = true, fields: [String] = [], _ help: String) {
        self.name = name; self.korean = korean; self.required = required; self.help = help
        self.fields = fields.isEmpty ? [name.replacingOccurrences(of: "_", with: "-")] : fields
    }
}

/// The column layouts of the import files (docs/import.md describes them for people).
public enum ImportLayout {
    static let institution = ImportColumn("institution", "기관코드", required: false,
                                          "the institution's code, e.g. ARM-001 (may be left out when the import names one institution)")
    static let localID = ImportColumn("local_id", "환자번호", fields: ["local-id", "patient"],
                                      "the institution's own patient number; only its pseudonym is stored")

    static func columns(_ kind: ImportKind) -> [ImportColumn] {
        switch kind {
        case .patients:
            return [institution, localID,
                    ImportColumn("birth_year", "출생연도", "year of birth, e.g. 1968"),
                    ImportColumn("sex", "성별", "female, male, other or unknown"),
                    ImportColumn("consent_on", "동의일", "date of consent to long-term follow-up, YYYY-MM-DD"),
                    ImportColumn("consent_version", "동의서버전", "version of the consent form, e.g. 2 or 2.1")]
        case .administrations:
            return [institution, localID,
                    ImportColumn("product", "제품코드", required: false, "the product's code, e.g. CART-CD19 (its approved plan at the institution is used)"),
                    ImportColumn("plan", "치료계획번호", required: false, "the treatment plan's number, when the institution has more than one approved plan for the product"),
                    ImportColumn("administered_on", "투여일", fields: ["on"], "date of the dose, YYYY-MM-DD"),
                    ImportColumn("lot", "로트번호", "the product lot, e.g. LOT-7"),
                    ImportColumn("dose", "용량", "the dose as given, e.g. 2x10^8 cells"),
                    ImportColumn("fee_notified_krw", "고지비용", fields: ["fee-notified"], "the fee notified to the patient, whole won"),
                    ImportColumn("fee_collected_krw", "수납비용", fields: ["fee-collected"], "the fee collected, whole won")]
        case .visits:
            return [institution, localID,
                    ImportColumn("administered_on", "투여일", required: false, fields: ["administered-on", "followup"],
                                 "date of the dose whose follow-up the visit completes (empty for an unscheduled visit)"),
                    ImportColumn("time_point", "방문시점", required: false, fields: ["time-point"],
                                 "the time point's label in the protocol, e.g. M3 or Y1 (empty for an unscheduled visit)"),
                    ImportColumn("visit_on", "방문일", fields: ["on"], "date of the visit, YYYY-MM-DD (empty when the follow-up was not done)"),
                    ImportColumn("contact_type", "접촉방법", fields: ["contact"], "examination, phone or questionnaire"),
                    ImportColumn("vital_status", "생존상태", fields: ["vital"], "alive, dead or unknown"),
                    ImportColumn("screening", "선별방문", required: false, "yes for a screening visit before the first dose"),
                    ImportColumn("note", "메모", required: false, "a note for the site, at most 500 characters, without identifiers"),
                    ImportColumn("not_done_reason", "미실시사유", required: false, fields: ["reason", "not-done-reason"],
                                 "instead of a visit: why the follow-up was not done (unreachable, refused, ...); the row then gives no visit date")]
        case .statusChanges:
            return [institution, localID,
                    ImportColumn("kind", "변경종류", "death, withdrawal, lost or found"),
                    ImportColumn("effective_on", "효력일", fields: ["on"], "the date it took effect, YYYY-MM-DD"),
                    ImportColumn("reason", "사유", fields: ["reason", "cause"], "why (for a death, its cause)")]
        case .adverseEvents:
            return [institution, localID,
                    ImportColumn("onset_on", "발생일", fields: ["onset"], "date of onset, YYYY-MM-DD"),
                    ImportColumn("aware_on", "인지일", fields: ["aware"], "date the site became aware, YYYY-MM-DD"),
                    ImportColumn("term", "이상사례명", "the event's term, e.g. cytokine release syndrome"),
                    ImportColumn("meddra_code", "MedDRA코드", required: false, fields: ["meddra"], "the MedDRA lowest level term code, 8 digits"),
                    ImportColumn("category", "분류", "new-malignancy, neurologic, autoimmune-rheumatologic, hematologic, infection or other"),
                    ImportColumn("grade", "등급", "1 to 5"),
                    ImportColumn("grading", "등급체계", "the grading system and version, e.g. CTCAE-5.0 or ASTCT-2019"),
                    ImportColumn("serious", "중대성", "yes or no"),
                    ImportColumn("criteria", "중대성기준", required: false,
                                 "for a serious event, its ICH E2A criteria separated by ';', e.g. hospitalization;life-threatening"),
                    ImportColumn("relatedness", "인과관계", required: false, fields: ["related"],
                                 "not-related, unlikely, possible, probable, definite or not-assessed"),
                    ImportColumn("outcome", "결과", required: false, "recovered, recovering, not-recovered, recovered-with-sequelae, fatal or unknown"),
                    ImportColumn("outcome_on", "결과일", required: false, fields: ["outcome-on"], "date of the outcome, YYYY-MM-DD"),
                    ImportColumn("report_submitted_on", "보고제출일", required: false, fields: ["report-submitted-on", "on", "adverse-event"],
                                 "for a serious event, the date its expedited report was submitted, YYYY-MM-DD"),
                    ImportColumn("distinct", "별개사례", required: false, fields: ["distinct", "term"],
                                 "yes when the patient has another event with the same term and onset that this is not")]
        }
    }

    /// The template: the header row, in English or Korean, with the measure columns of the
    /// catalogue for visits. UTF-8 with a byte-order mark (so that spreadsheets read Korean), CRLF.
    public static func template(_ kind: ImportKind, korean: Bool, measureKeys: [String] = []) -> String {
        var headers = kind.columns.map { korean ? $0.korean : $0.name }
        if kind == .visits { headers += measureKeys }
        return "\u{FEFF}" + headers.joined(separator: ",") + "\r\n"
    }

    /// A header as people write it: trimmed, case and spacing aside (`Local ID`, `local-id`).
    static func normalise(_ header: String) -> String {
        var h = header.trimmingCharactersInWhitespace()
        if h.hasPrefix("\u{FEFF}") { h.removeFirst() }
        return String(h.lowercased().map { $0 == " " || $0 == "-" ? "_" : $0 })
    }
}

/// The columns a file's header row names, matched to the layout.
struct HeaderMap: Sendable {
    /// Column name (English) -> index in the row.
    var index: [String: Int]
    /// For visits: measure key -> index.
    var measures: [(key: String, index: Int)]
    /// The headers as the file has them, by index.
    var headers: [String]

    /// Matches `headers` to `kind`'s layout; refuses with every problem at once: unknown headers
    /// (with the allowed ones), headers given twice, required ones missing.
    init(_ headers: [String], kind: ImportKind, measureKeys: [String]) throws(RegistryError) {
        self.headers = headers
        var byName: [String: ImportColumn] = [:]
        for column in kind.columns {
            byName[ImportLayout.normalise(column.name)] = column
            byName[ImportLayout.normalise(column.korean)] = column
        }
        let measureSet = Set(measureKeys.map(ImportLayout.normalise))
        var index: [String: Int] = [:], measures: [(String, Int)] = [], checks = FieldChecks()
        for (i, raw) in headers.enumerated() {
            let h = ImportLayout.normalise(raw)
            if let column = byName[h] {
                if index[column.name] != nil {
                    checks.refuse(.invalid("header", "column \(i + 1) '\(raw)' repeats \(column.name); give each column once"))
                } else {
                    index[column.name] = i
                }
            } else if kind == .visits, measureSet.contains(h), let key = measureKeys.first(where: { ImportLayout.normalise($0) == h }) {
                if measures.contains(where: { $0.0 == key }) {
                    checks.refuse(.invalid("header", "column \(i + 1) '\(raw)' repeats the measure \(key); give each column once"))
                } else {
                    measures.append((key, i))
                }
            } else if h.isEmpty {
                checks.refuse(.invalid("header", "column \(i + 1) has no header; every column needs one"))
            } else {
                let allowed = kind.columns.map(\.name) + (kind == .visits ? ["and the measure keys: " + measureKeys.joined(separator: ", ")] : [])
                checks.refuse(.invalid("header", "column \(i + 1) '\(raw)' is not a column of a \(kind.rawValue) file; allowed: \(allowed.joined(separator: ", "))"))
            }
        }
        for column in kind.columns where column.required && index[column.name] == nil {
            checks.refuse(.invalid("header", "the column \(column.name) (\(column.korean)) is missing: \(column.help)"))
        }
        try checks.finish()
        self.index = index
        self.measures = measures
    }

    /// The value of `column` in `row`, trimmed; nil when the column is absent, or the cell is empty.
    func value(_ column: String, in row: [String]) -> String? {
        guard let i = index[column], i < row.count else { return nil }
        let v = row[i].trimmingCharactersInWhitespace()
        return v.isEmpty ? nil : v
    }

    /// The column a refusal's field belongs to (the header as the file wrote it).
    func column(for field: String?, kind: ImportKind) -> String? {
        guard let field else { return nil }
        if let m = measures.first(where: { $0.key == field }) { return headers[m.index] }
        for column in kind.columns where column.fields.contains(field) || column.name == field {
            return index[column.name].map { headers[$0] } ?? column.name
        }
        return nil
    }
}
