import Crypto
import Foundation
import RegistryDomain
import RegistryStorage

/// Generates patients, administrations and follow-ups as COPY rows. Each patient draws from its
/// own random stream, so the data do not depend on chunk sizes; schedules come from the same
/// `FollowUpSchedule` that `registry administer` uses.
struct DemoPatientGenerator: Sendable {
    let options: DemoOptions
    let reference: DemoRegistry.Reference
    let protocols: [Int: FollowUpProtocol]
    let pseudonymizer: Pseudonymizer
    let cumulative: [Double]

    static let patientColumns = ["id", "pseudonym", "enrolled_by", "institution_id", "birth_year", "sex", "consent_on", "consent_version", "status", "status_on"]
    static let administrationColumns = ["id", "patient_id", "plan_id", "institution_id", "administered_on", "lot", "dose", "fee_notified_krw", "fee_collected_krw"]
    static let followUpColumns = ["id", "administration_id", "patient_id", "institution_id", "seq", "label", "due_on", "window_start", "window_end", "contact_type", "status", "completed_on"]

    init(options: DemoOptions, reference: DemoRegistry.Reference, protocols: [Int: FollowUpProtocol]) {
        self.options = options
        self.reference = reference
        self.protocols = protocols
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
    }

    struct Chunk: Sendable {
        var patients = CopyBuffer(capacity: 1 << 20)
        var administrations = CopyBuffer(capacity: 1 << 20)
        var followUps = CopyBuffer(capacity: 8 << 20)
        var nextIDs = NextIDs()
    }

    func generate(patients range: ClosedRange<Int>, ids start: NextIDs) -> Chunk {
        var chunk = Chunk()
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
        let birthYear = rng.int(1938...2012)
        chunk.patients.add(patientID)
        chunk.patients.add(pseudonymizer.pseudonym(institutionCode: reference.institutionCodes[institution]!, localID: "DEMO-\(patientID)"))
        chunk.patients.add(institution)
        chunk.patients.add(institution)
        chunk.patients.add(birthYear)
        chunk.patients.add(rng.chance(0.52) ? "female" : "male")
        chunk.patients.add(consentOn)
        chunk.patients.add(consentOn < DemoRegistry.launch ? "1" : "2")
        chunk.patients.add(status.rawValue)
        chunk.patients.add(statusOn)
        chunk.patients.endRow()

        // Cell therapies are often repeated; gene therapies and xenografts almost never.
        let doses: Int
        switch cls {
        case .cell: let r = rng.unit(); doses = r < 0.55 ? 1 : r < 0.80 ? 2 : r < 0.93 ? 3 : 4
        case .gene: doses = rng.chance(0.04) ? 2 : 1
        case .xenogeneic: doses = 1
        }
        let diligence = reference.diligence[institution]!
        var date = first
        for dose in 0..<doses {
            if dose > 0 { date = date.adding(days: rng.int(28...180)) }
            if date > asOf || (statusOn.map { date >= $0 } ?? false) { break }
            let adminID = ids.administration
            ids.administration += 1
            let fee = rng.int(spec.fee) / 10_000 * 10_000
            chunk.administrations.add(adminID)
            chunk.administrations.add(patientID)
            chunk.administrations.add(plan.id)
            chunk.administrations.add(institution)
            chunk.administrations.add(date)
            chunk.administrations.add("\(spec.code)-\(date.year)\(date.components.month < 10 ? "0" : "")\(date.components.month)-\(rng.int(1...4))")
            chunk.administrations.add(spec.dose)
            chunk.administrations.add(fee)
            chunk.administrations.add(rng.chance(0.9) ? fee : fee * rng.int(50...95) / 100 / 10_000 * 10_000)
            chunk.administrations.endRow()

            for planned in FollowUpSchedule.plan(protocol: proto, anchor: date) {
                var fuStatus = FollowUpStatus.scheduled
                var completedOn: LocalDate? = nil
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
                    }
                } else if planned.windowStart <= asOf, rng.chance(0.35) {
                    fuStatus = .completed
                    completedOn = planned.windowStart.adding(days: rng.int(0...planned.windowStart.days(until: asOf)))
                }
                if let c = completedOn, let end = statusOn, c > end { completedOn = end }
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
                chunk.followUps.endRow()
                ids.followUp += 1
            }
        }
    }
}
