import Crypto
import Foundation
import RegistryDomain
import RegistryStorage

/// Generates patients, status changes, administrations, follow-ups, visits with measures and
/// adverse events as COPY rows. Each patient draws from its own random stream, so the data do not
/// depend on chunk sizes and a chunk can be generated again identically; schedules come from the
/// same `FollowUpSchedule` that `registry administer` uses.
struct DemoPatientGenerator: Sendable {
    let options: DemoOptions
    let reference: DemoRegistry.Reference
    let protocols: [Int: FollowUpProtocol]
    let pseudonymizer: Pseudonymizer
    let cumulative: [Double]
    let clock: ExpeditedReportClock
    /// The measures' codes and units, as stored.
    let measures: MeasureCatalogue

    static let patientColumns = ["id", "pseudonym", "enrolled_by", "institution_id", "birth_year", "sex", "consent_on", "consent_version", "status", "status_on"]
    static let statusChangeColumns = ["id", "patient_id", "institution_id", "kind", "effective_on", "reason"]
    static let administrationColumns = ["id", "patient_id", "plan_id", "institution_id", "administered_on", "lot", "dose", "fee_notified_krw", "fee_collected_krw"]
    static let followUpColumns = ["id", "administration_id", "patient_id", "institution_id", "seq", "label", "due_on", "window_start", "window_end",
                                  "contact_type", "status", "completed_on", "timing", "not_done_reason", "suspended_by"]
    static let visitColumns = ["id", "patient_id", "institution_id", "follow_up_id", "visit_on", "contact_type", "vital_status", "timing"]
    static let measureColumns = ["visit_id", "patient_id", "institution_id", "key", "code_system", "code", "value", "unit"]
    static let adverseEventColumns = ["id", "patient_id", "institution_id", "onset_on", "aware_on", "term", "category", "grade", "grading_system",
                                      "grading_version", "serious", "seriousness", "relatedness", "outcome", "outcome_on", "report_due_on", "report_submitted_on"]

    init(options: DemoOptions, reference: DemoRegistry.Reference, protocols: [Int: FollowUpProtocol], clock: ExpeditedReportClock,
         measures: MeasureCatalogue) {
        self.options = options
        self.measures = measures
        self.reference = reference
        self.protocols = protocols
        self.clock = clock
        // Demo pseudonyms use a key derived from the seed, not the registry's real key, so the
        // same seed gives the same data on every machine.
        var seedBytes = Data()
        withUnsafeBytes(of: options.seed.bigEndian) { seedBytes.append(contentsOf: $0) }
        self.pseudonymizer = try! Pseudonymizer(secret: Data(SHA256.hash(data: Data("registry-demo".utf8) + seedBytes)))
        var running = 0.0
        self.cumulative = reference.approved.map { running += $0.weight; return running }
    }

    struct NextIDs: Sendable {
        var administration = 1
        var followUp = 1
        var statusChange = 1
        var visit = 1
        var adverseEvent = 1
    }

    /// The two passes over the same patients. Phase A writes patients, status changes,
    /// administrations and follow-ups (what the follow-up write rate is measured on); phase B,
    /// afterwards, their visits, measures and adverse events. Both draw every random number, so
    /// each sees the same registry; each formats only its own rows.
    enum Phase: Sendable { case a, b }

    /// The rows of a range of patients for one phase (the other phase's buffers stay empty).
    struct Chunk: Sendable {
        var patients = CopyBuffer(capacity: 1 << 19)
        var statusChanges = CopyBuffer(capacity: 1 << 14)
        var administrations = CopyBuffer(capacity: 1 << 19)
        var followUps = CopyBuffer(capacity: 8 << 20)
        var visits = CopyBuffer(capacity: 4 << 20)
        var measures = CopyBuffer(capacity: 8 << 20)
        var adverseEvents = CopyBuffer(capacity: 1 << 18)
        var nextIDs = NextIDs()
        var phase = Phase.a
    }

    func generate(patients range: ClosedRange<Int>, ids start: NextIDs, phase: Phase) -> Chunk {
        var chunk = Chunk()
        chunk.phase = phase
        var ids = start
        for patientID in range {
            generatePatient(patientID, into: &chunk, ids: &ids)
        }
        chunk.nextIDs = ids
        return chunk
    }

    private func pickPlan(_ rng: inout SeededRandom) -> DemoRegistry.Reference.Plan {
        let x = rng.unit() * cumulative.last!
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return reference.approved[lo]
    }

    private func generatePatient(_ patientID: Int, into chunk: inout Chunk, ids: inout NextIDs) {
        var rng = SeededRandom(seed: options.seed, stream: UInt64(patientID) &+ 1_000)
        let asOf = options.asOf
        let plan = pickPlan(&rng)
        let spec = DemoCatalogue.products[plan.product - 1]
        let cls = spec.modality.followUpClass!
        let proto = protocols[plan.protocolID]!

        // Later years see more patients: the pathway opened in 2025.
        let start = max(plan.approvedOn.adding(days: 1), DemoRegistry.earliest)
        let span = max(asOf.dayNumber - start.dayNumber, 0)
        let first = start.adding(days: Int(Double(span) * pow(rng.unit(), 0.6)))
        let consentOn = max(first.adding(days: -rng.int(1...30)), Rules.actEffectiveDate)

        // What ends follow-up, if anything, before the as-of date.
        var status = PatientStatus.active
        var statusOn: LocalDate? = nil
        let deathDays = Int(-log(1 - rng.unit()) / DemoCatalogue.yearlyDeathHazard(cls) * 365.25)
        let followed = asOf.dayNumber - first.dayNumber
        if deathDays <= followed {
            status = .deceased; statusOn = first.adding(days: max(deathDays, 1))
        } else if rng.chance(0.012), followed > 30 {
            status = .withdrawn; statusOn = first.adding(days: rng.int(30...followed))
        } else if rng.chance(0.018), followed > 400 {
            status = .lostToFollowUp; statusOn = first.adding(days: rng.int(400...followed))
        }
        let institution = plan.institution
        let phaseA = chunk.phase == .a
        let birthYear = rng.int(1938...2012)
        let sex = rng.chance(0.52) ? "female" : "male"
        if phaseA {
            chunk.patients.add(patientID)
            chunk.patients.add(pseudonymizer.pseudonym(institutionCode: reference.institutionCodes[institution]!, localID: "DEMO-\(patientID)"))
            chunk.patients.add(institution)
            chunk.patients.add(institution)
            chunk.patients.add(birthYear)
            chunk.patients.add(sex)
            chunk.patients.add(consentOn)
            chunk.patients.add(consentOn < DemoRegistry.launch ? "1" : "2")
            chunk.patients.add(status.rawValue)
            chunk.patients.add(statusOn)
            chunk.patients.endRow()
        }

        var statusChangeID: Int? = nil
        if let statusOn {
            statusChangeID = ids.statusChange
            ids.statusChange += 1
            let kind: String, reason: String
            switch status {
            case .deceased:
                kind = "death"; reason = ["progressive disease", "infection", "cardiovascular event", "unknown cause"][rng.int(0...3)]
            case .withdrawn: kind = "withdrawal"; reason = "patient request"
            default: kind = "lost"; reason = "no contact after repeated letters and calls"
            }
            if phaseA {
                chunk.statusChanges.add(statusChangeID!)
                chunk.statusChanges.add(patientID)
                chunk.statusChanges.add(institution)
                chunk.statusChanges.add(kind)
                chunk.statusChanges.add(statusOn)
                chunk.statusChanges.add(reason)
                chunk.statusChanges.endRow()
            }
        }

        // Cell therapies are often repeated; gene therapies and xenografts almost never.
        let doses: Int
        switch cls {
        case .cell: let r = rng.unit(); doses = r < 0.55 ? 1 : r < 0.80 ? 2 : r < 0.93 ? 3 : 4
        case .gene: doses = rng.chance(0.04) ? 2 : 1
        case .xenogeneic: doses = 1
        }
        let diligence = reference.diligence[institution]!
        let measureKeys = Self.measureKeys(for: spec)
        // Each patient's measures drift from a baseline: better for most, worse for some.
        let trend = rng.unit() < 0.7 ? 1.0 : -0.5
        // The baseline visit on the day of the first dose carries the reference measures.
        visit(on: first, followUpID: nil, contact: .examination, timing: nil, weeks: 0, keys: measureKeys, trend: trend,
              patientID: patientID, institution: institution, chunk: &chunk, ids: &ids, rng: &rng)
        var date = first
        for dose in 0..<doses {
            if dose > 0 { date = date.adding(days: rng.int(28...180)) }
            if date > asOf || (statusOn.map { date >= $0 } ?? false) { break }
            let adminID = ids.administration
            ids.administration += 1
            let fee = rng.int(spec.fee) / 10_000 * 10_000
            let lot = rng.int(1...4)
            let collected = rng.chance(0.9) ? fee : fee * rng.int(50...95) / 100 / 10_000 * 10_000
            if phaseA {
                chunk.administrations.add(adminID)
                chunk.administrations.add(patientID)
                chunk.administrations.add(plan.id)
                chunk.administrations.add(institution)
                chunk.administrations.add(date)
                chunk.administrations.add("\(spec.code)-\(date.year)\(date.components.month < 10 ? "0" : "")\(date.components.month)-\(lot)")
                chunk.administrations.add(spec.dose)
                chunk.administrations.add(fee)
                chunk.administrations.add(collected)
                chunk.administrations.endRow()
            }

            for planned in FollowUpSchedule.plan(protocol: proto, anchor: date) {
                var fuStatus = FollowUpStatus.scheduled
                var completedOn: LocalDate? = nil
                var notDone: NotDoneReason? = nil
                if let end = statusOn, planned.due > end {
                    fuStatus = .notRequired
                } else if planned.windowEnd < asOf {
                    let r = rng.unit()
                    if r < diligence * 0.95 {
                        fuStatus = .completed
                        let inWindow = planned.windowStart.adding(days: rng.int(0...planned.windowStart.days(until: planned.windowEnd)))
                        completedOn = rng.chance(0.92) ? inWindow : min(planned.windowEnd.adding(days: rng.int(1...60)), asOf)
                    } else if r < diligence * 0.95 + 0.03 {
                        fuStatus = .notDone
                        notDone = rng.chance(0.6) ? .unreachable : .refused
                    }
                } else if planned.windowStart <= asOf, rng.chance(0.35) {
                    fuStatus = .completed
                    completedOn = planned.windowStart.adding(days: rng.int(0...planned.windowStart.days(until: asOf)))
                }
                if let c = completedOn, let end = statusOn, c > end { completedOn = end }
                let timing = completedOn.map { VisitTiming.of($0, windowStart: planned.windowStart, windowEnd: planned.windowEnd) }
                if phaseA {
                    chunk.followUps.add(ids.followUp)
                    chunk.followUps.add(adminID)
                    chunk.followUps.add(patientID)
                    chunk.followUps.add(institution)
                    chunk.followUps.add(planned.sequence)
                    chunk.followUps.add(planned.label)
                    chunk.followUps.add(planned.due)
                    chunk.followUps.add(planned.windowStart)
                    chunk.followUps.add(planned.windowEnd)
                    chunk.followUps.add(planned.contactType.rawValue)
                    chunk.followUps.add(fuStatus.rawValue)
                    chunk.followUps.add(completedOn)
                if let timing { chunk.followUps.add(timing.rawValue) } else { chunk.followUps.addNull() }
                if let notDone { chunk.followUps.add(notDone.rawValue) } else { chunk.followUps.addNull() }
                if fuStatus == .notRequired, let statusChangeID { chunk.followUps.add(statusChangeID) } else { chunk.followUps.addNull() }
                    chunk.followUps.endRow()
                }
                if let completedOn, let timing {
                    let weeks = date.days(until: planned.due) / 7
                    visit(on: completedOn, followUpID: ids.followUp, contact: planned.contactType, timing: timing, weeks: weeks, keys: measureKeys,
                          trend: trend, patientID: patientID, institution: institution, chunk: &chunk, ids: &ids, rng: &rng)
                }
                ids.followUp += 1
            }
        }
        adverseEvents(patientID: patientID, institution: institution, cls: cls, first: first, end: statusOn ?? asOf,
                      died: status == .deceased ? statusOn : nil, chunk: &chunk, ids: &ids, rng: &rng)
    }

    /// Measures recorded at examinations: performance and quality of life for everyone, plus the
    /// indication's own scale or blood counts after gene-modified cells.
    static func measureKeys(for spec: DemoCatalogue.ProductSpec) -> [String] {
        var keys = ["ecog", "eq5d-index"]
        switch spec.code {
        case let c where c.hasPrefix("MSC-KNEE") || c == "CHON-1": keys.append("womac")
        case "MSC-ALS-1": keys.append("alsfrs-r")
        case "IPSC-PD-1": keys.append("updrs-iii")
        case let c where c.hasPrefix("CART") || c.hasPrefix("LV-") || c.hasPrefix("CRISPR"): keys += ["hemoglobin", "platelets", "wbc"]
        default: keys.append("pain-nrs")
        }
        return keys
    }

    private func visit(on date: LocalDate, followUpID: Int?, contact: ContactType, timing: VisitTiming?, weeks: Int, keys: [String], trend: Double,
                       patientID: Int, institution: Int, chunk: inout Chunk, ids: inout NextIDs, rng: inout SeededRandom) {
        let visitID = ids.visit
        ids.visit += 1
        let phaseB = chunk.phase == .b
        if phaseB {
            chunk.visits.add(visitID)
            chunk.visits.add(patientID)
            chunk.visits.add(institution)
            if let followUpID { chunk.visits.add(followUpID) } else { chunk.visits.addNull() }
            chunk.visits.add(date)
            chunk.visits.add(contact.rawValue)
            chunk.visits.add("alive")
            if let timing { chunk.visits.add(timing.rawValue) } else { chunk.visits.addNull() }
            chunk.visits.endRow()
        }
        // Examinations record every measure, questionnaires the patient-reported ones, calls none.
        let recorded: [String]
        switch contact {
        case .examination: recorded = keys
        case .questionnaire: recorded = keys.filter { ["eq5d-index", "womac", "pain-nrs"].contains($0) }
        case .phone: recorded = []
        }
        let progress = min(Double(weeks) / 52, 2) * trend
        for key in recorded {
            let def = measures.named(key)!
            let value: Double
            switch key {
            case "ecog": value = Double(max(0, min(4, Int((1.2 - 0.4 * progress + rng.unit() * 1.2).rounded(.down)))))
            case "eq5d-index": value = min(1, max(-0.2, 0.62 + 0.08 * progress + (rng.unit() - 0.5) * 0.15))
            case "womac": value = Double(max(0, min(96, Int(52 - 12 * progress + (rng.unit() - 0.5) * 16))))
            case "alsfrs-r": value = Double(max(0, min(48, Int(38 - 4 * Double(weeks) / 52 + (rng.unit() - 0.5) * 6))))
            case "updrs-iii": value = Double(max(0, min(132, Int(42 - 6 * progress + (rng.unit() - 0.5) * 10))))
            case "pain-nrs": value = Double(max(0, min(10, Int(6.5 - 1.5 * progress + (rng.unit() - 0.5) * 3))))
            case "hemoglobin": value = min(25, max(5, 10.5 + 1.2 * progress + (rng.unit() - 0.5) * 2))
            case "platelets": value = max(5, 150 + 40 * progress + (rng.unit() - 0.5) * 80)
            default: value = max(0.3, 5.5 + (rng.unit() - 0.5) * 4)  // wbc
            }
            guard phaseB else { continue }  // the value is drawn in both phases, written in B
            let rounded = def.integer ? value.rounded() : (value * 100).rounded() / 100
            chunk.measures.add(visitID)
            chunk.measures.add(patientID)
            chunk.measures.add(institution)
            chunk.measures.add(def.key)
            chunk.measures.add(def.codeSystem)
            chunk.measures.add(def.code)
            chunk.measures.add(MeasureValue(key: key, codeSystem: def.codeSystem, code: def.code, value: rounded, unit: def.unit).valueText)
            if let unit = def.unit { chunk.measures.add(unit) } else { chunk.measures.addNull() }
            chunk.measures.endRow()
        }
    }

    static let terms: [AdverseEventCategory: [(String, String)]] = [
        .infection: [("Pneumonia", "CTCAE-5.0"), ("Herpes zoster", "CTCAE-5.0"), ("Upper respiratory infection", "CTCAE-5.0")],
        .hematologic: [("Neutrophil count decreased", "CTCAE-5.0"), ("Platelet count decreased", "CTCAE-5.0"), ("Anaemia", "CTCAE-5.0")],
        .neurologic: [("Immune effector cell-associated neurotoxicity syndrome", "ASTCT-2019"), ("Peripheral sensory neuropathy", "CTCAE-5.0"), ("Headache", "CTCAE-5.0")],
        .autoimmuneRheumatologic: [("Hypothyroidism", "CTCAE-5.0"), ("Arthritis", "CTCAE-5.0")],
        .newMalignancy: [("Myelodysplastic syndrome", "CTCAE-5.0"), ("T-cell lymphoma", "CTCAE-5.0")],
        .other: [("Fatigue", "CTCAE-5.0"), ("Injection site reaction", "CTCAE-5.0"), ("Cytokine release syndrome", "ASTCT-2019")],
    ]

    private func adverseEvents(patientID: Int, institution: Int, cls: FollowUpClass, first: LocalDate, end: LocalDate, died: LocalDate?,
                               chunk: inout Chunk, ids: inout NextIDs, rng: inout SeededRandom) {
        let asOf = options.asOf
        var count = rng.chance(cls == .gene ? 0.35 : 0.18) ? 1 : 0
        if count == 1 && rng.chance(0.25) { count = 2 }
        // Some deaths are the outcome of a grade 5 event.
        let fatal = died != nil && rng.chance(0.15)
        if fatal { count += 1 }
        guard count > 0, first.days(until: end) >= 1 else { return }
        for n in 0..<count {
            let isFatal = fatal && n == count - 1
            let category: AdverseEventCategory
            let r = rng.unit()
            if isFatal { category = rng.chance(0.5) ? .newMalignancy : .infection } else {
                category = r < 0.30 ? .infection : r < (cls == .gene ? 0.60 : 0.48) ? .hematologic : r < 0.68 ? .neurologic
                    : r < 0.75 ? .autoimmuneRheumatologic : r < 0.77 ? .newMalignancy : .other
            }
            let options = Self.terms[category]!
            let (term, grading) = options[rng.int(0...(options.count - 1))]
            let g = rng.unit()
            let grade = isFatal ? 5 : g < 0.40 ? 1 : g < 0.75 ? 2 : g < 0.94 ? 3 : 4
            let serious = grade >= 4 || (grade == 3 && rng.chance(0.5))
            let onset = isFatal ? died!.adding(days: -rng.int(0...min(20, first.days(until: died!)))) : first.adding(days: rng.int(1...first.days(until: end)))
            let aware = min(onset.adding(days: rng.int(0...5)), asOf)
            var criteria: [String] = []
            if grade == 5 { criteria = ["death"] } else if grade == 4 { criteria = ["life-threatening"] } else if serious { criteria = ["hospitalization"] }
            let due = clock.dueDate(serious: serious, criteria: Set(criteria.compactMap(SeriousnessCriterion.init(rawValue:))), grade: grade, aware: aware)
            var submitted: LocalDate? = nil
            if let due {
                let s = rng.unit()
                let candidate = s < 0.85 ? aware.adding(days: rng.int(1...aware.days(until: due))) : s < 0.95 ? due.adding(days: rng.int(1...20)) : nil
                submitted = candidate.flatMap { $0 <= asOf ? $0 : nil }
            }
            let outcome: AdverseEventOutcome
            var outcomeOn: LocalDate? = nil
            if isFatal { outcome = .fatal; outcomeOn = died } else {
                let o = rng.unit()
                outcome = o < 0.70 ? .recovered : o < 0.85 ? .recovering : o < 0.95 ? .notRecovered : .unknown
                if outcome == .recovered { outcomeOn = min(onset.adding(days: rng.int(3...60)), asOf) }
            }
            defer { ids.adverseEvent += 1 }
            guard chunk.phase == .b else { continue }
            let gradingSystem = GradingSystem(system: String(grading.split(separator: "-")[0]), version: String(grading.split(separator: "-")[1]))
            chunk.adverseEvents.add(ids.adverseEvent)
            chunk.adverseEvents.add(patientID)
            chunk.adverseEvents.add(institution)
            chunk.adverseEvents.add(onset)
            chunk.adverseEvents.add(aware)
            chunk.adverseEvents.add(term)
            chunk.adverseEvents.add(category.rawValue)
            chunk.adverseEvents.add(grade)
            chunk.adverseEvents.add(gradingSystem.system)
            chunk.adverseEvents.add(gradingSystem.version)
            chunk.adverseEvents.add(serious ? "t" : "f")
            chunk.adverseEvents.add("{\(criteria.joined(separator: ","))}")
            chunk.adverseEvents.add(["not-related", "unlikely", "possible", "probable", "definite"][rng.int(0...4)])
            chunk.adverseEvents.add(outcome.rawValue)
            chunk.adverseEvents.add(outcomeOn)
            chunk.adverseEvents.add(due)
            chunk.adverseEvents.add(submitted)
            chunk.adverseEvents.endRow()
        }
    }
}
