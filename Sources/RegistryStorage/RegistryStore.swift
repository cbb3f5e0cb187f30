import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// The registry's records in PostgreSQL. Every write runs in one audited transaction and checks
/// its references inside it, so a refusal leaves the database exactly as it was.
public struct RegistryStore: Sendable {
    /// The pool.
    public let database: Database
    /// Today's date in Seoul; injectable so tests and replays can fix it.
    public let today: @Sendable () -> LocalDate

    public init(database: Database, today: @escaping @Sendable () -> LocalDate = { LocalDate.todayInSeoul() }) {
        self.database = database
        self.today = today
    }

    var logger: Logger { database.logger }

    // MARK: institutions

    /// Designates an institution.
    public func addInstitution(_ new: NewInstitution, actor: String) async throws -> Institution {
        try await database.transaction(actor: actor) { c in
            let rows = try await c.query("""
                INSERT INTO institution (code, name, designation_number, designated_on)
                VALUES (\(new.code), \(new.name), \(new.designationNumber), \(new.designatedOn))
                RETURNING \(unescaped: Self.institutionColumns)
                """, logger: logger)
            return try await Self.institutions(rows).first!
        }
    }

    /// Every institution, by code.
    public func institutions() async throws -> [Institution] {
        try await database.read { c in
            try await Self.institutions(c.query("SELECT \(unescaped: Self.institutionColumns) FROM institution ORDER BY code", logger: logger))
        }
    }

    /// Suspends, revokes or reinstates an institution.
    public func setInstitutionStatus(code: String, status: InstitutionStatus, reason: String, actor: String) async throws -> Institution {
        try await database.transaction(actor: actor, reason: reason) { c in
            let rows = try await c.query("""
                UPDATE institution SET status = \(status.rawValue) WHERE code = \(code)
                RETURNING \(unescaped: Self.institutionColumns)
                """, logger: logger)
            guard let inst = try await Self.institutions(rows).first else { throw Self.unknownInstitution(code) }
            return inst
        }
    }

    static let institutionColumns = "id, code, name, designation_number, designated_on, status"

    static func institutions(_ rows: PostgresRowSequence) async throws -> [Institution] {
        var out: [Institution] = []
        for try await (id, code, name, designation, on, status) in rows.decode((Int, String, String, String, LocalDate, String).self) {
            out.append(Institution(id: id, code: code, name: name, designationNumber: designation, designatedOn: on,
                                   status: InstitutionStatus(rawValue: status) ?? .suspended))
        }
        return out
    }

    static func unknownInstitution(_ code: String, field: String = "institution") -> RegistryError {
        .notFound(field, "no institution has code \(code)", hint: "list them with: registry institution list")
    }

    // MARK: products

    /// Registers a product; minimally manipulated products never get here (NewProduct refuses them).
    public func addProduct(_ new: NewProduct, actor: String) async throws -> Product {
        try await database.transaction(actor: actor) { c in
            let rows = try await c.query("""
                INSERT INTO product (code, name, manufacturer, modality, follow_up_class, follow_up_years)
                VALUES (\(new.code), \(new.name), \(new.manufacturer), \(new.modality.rawValue),
                        \(new.followUpClass.rawValue), \(new.followUpClass.years))
                RETURNING \(unescaped: Self.productColumns)
                """, logger: logger)
            return try await Self.products(rows).first!
        }
    }

    /// Every product, by code.
    public func products() async throws -> [Product] {
        try await database.read { c in
            try await Self.products(c.query("SELECT \(unescaped: Self.productColumns) FROM product ORDER BY code", logger: logger))
        }
    }

    static let productColumns = "id, code, name, manufacturer, modality, follow_up_class, follow_up_years"

    static func products(_ rows: PostgresRowSequence) async throws -> [Product] {
        var out: [Product] = []
        for try await (id, code, name, manufacturer, modality, cls, years) in rows.decode((Int, String, String, String, String, String, Int32).self) {
            out.append(Product(id: id, code: code, name: name, manufacturer: manufacturer,
                               modality: Modality(rawValue: modality)!, followUpClass: FollowUpClass(rawValue: cls)!,
                               followUpYears: Int(years)))
        }
        return out
    }

    // MARK: protocols

    /// Writes the reference data defined in the domain module (standard protocols, the measure
    /// catalogue) where missing; safe to run on every start.
    public func ensureReferenceData() async throws {
        try await database.transaction(actor: "registry migrate") { c in
            for cls in FollowUpClass.allCases {
                let p = FollowUpProtocol.standard(for: cls)
                try await Self.insertProtocol(p, connection: c, logger: logger)
            }
            let m = MeasureDefinition.catalogue
            try await c.query("""
                INSERT INTO measure_definition (key, code_system, code, display, unit, minimum, maximum, is_integer)
                SELECT k, s, c, d, nullif(u, ''), mn::numeric, mx::numeric, i
                FROM unnest(\(m.map(\.key)), \(m.map(\.codeSystem)), \(m.map(\.code)), \(m.map(\.display)), \(m.map { $0.unit ?? "" }),
                            \(m.map { String($0.minimum) }), \(m.map { String($0.maximum) }), \(m.map(\.integer))) AS x(k, s, c, d, u, mn, mx, i)
                ON CONFLICT (key) DO NOTHING
                """, logger: logger)
        }
    }

    /// Adds a follow-up protocol: version 1 of a new code, or the next version of an existing one,
    /// which keeps the code's follow-up class and must differ from the latest version. Plans
    /// submitted from then on that name the code follow the new version; existing plans keep theirs.
    public func addProtocol(_ new: NewFollowUpProtocol, reason: String? = nil, actor: String) async throws -> StoredProtocol {
        try await database.transaction(actor: actor, reason: reason) { c in
            // Two versions of one code added at once get consecutive numbers, not a unique violation.
            try await c.query("SELECT pg_advisory_xact_lock(hashtext('follow_up_protocol'), hashtext(\(new.code)))", logger: logger)
            var version = 1
            let latest = try await c.query("SELECT id FROM follow_up_protocol WHERE code = \(new.code) ORDER BY version DESC LIMIT 1", logger: logger)
            if let latestID = try await latest.decode(Int.self).first(where: { _ in true }) {
                let current = try await Self.loadProtocol(id: latestID, connection: c, logger: logger)
                guard current.followUpClass == new.followUpClass else {
                    throw RegistryError.conflict("follow-up-class", "protocol \(new.code) is for \(current.followUpClass.rawValue) products; a new version keeps the class",
                                                 hint: "give the protocol for \(new.followUpClass.rawValue) products a code of its own")
                }
                guard current.timePoints != new.timePoints else {
                    throw RegistryError.conflict("time-points", "version \(current.version) of protocol \(new.code) already has exactly these time points; nothing was added")
                }
                version = current.version + 1
            }
            let p = new.versioned(version)
            guard let id = try await Self.insertProtocol(p, connection: c, logger: logger) else {
                throw RegistryError.conflict("code", "protocol \(p.code) version \(p.version) already exists")
            }
            return StoredProtocol(id: id, p)
        }
    }

    /// Inserts a protocol and its time points; nil (and nothing written) when that code and
    /// version already exist.
    @discardableResult
    static func insertProtocol(_ p: FollowUpProtocol, connection c: PostgresConnection, logger: Logger) async throws -> Int? {
        let rows = try await c.query("""
            INSERT INTO follow_up_protocol (code, version, follow_up_class) VALUES (\(p.code), \(p.version), \(p.followUpClass.rawValue))
            ON CONFLICT (code, version) DO NOTHING RETURNING id
            """, logger: logger)
        guard let id = try await rows.decode(Int.self).first(where: { _ in true }) else { return nil }
        let tps = p.timePoints
        try await c.query("""
            INSERT INTO protocol_time_point (protocol_id, seq, label, offset_amount, offset_unit, window_before, window_after, contact_type)
            SELECT \(id), s, l, a, u, b, w, t
            FROM unnest(\(Array(1...tps.count)), \(tps.map(\.label)), \(tps.map(\.offset.amount)), \(tps.map(\.offset.unit)),
                        \(tps.map(\.windowBefore)), \(tps.map(\.windowAfter)), \(tps.map(\.contactType.rawValue)))
                 AS x(s, l, a, u, b, w, t)
            """, logger: logger)
        return id
    }

    /// A protocol with its time points.
    static func loadProtocol(id: Int, connection c: PostgresConnection, logger: Logger) async throws -> FollowUpProtocol {
        let head = try await c.query("SELECT code, version, follow_up_class FROM follow_up_protocol WHERE id = \(id)", logger: logger)
        guard let (code, version, cls) = try await head.decode((String, Int32, String).self).first(where: { _ in true }) else {
            throw RegistryError(.notFound, field: "protocol", "no follow-up protocol has id \(id)")
        }
        var points: [TimePoint] = []
        let rows = try await c.query("""
            SELECT label, offset_amount, offset_unit, window_before, window_after, contact_type
            FROM protocol_time_point WHERE protocol_id = \(id) ORDER BY seq
            """, logger: logger)
        for try await (label, amount, unit, before, after, contact) in rows.decode((String, Int32, String, Int32, Int32, String).self) {
            points.append(TimePoint(label: label, offset: ScheduleOffset(unit: unit, amount: Int(amount))!,
                                    windowBefore: Int(before), windowAfter: Int(after), contactType: ContactType(rawValue: contact)!))
        }
        return FollowUpProtocol(code: code, version: Int(version), followUpClass: FollowUpClass(rawValue: cls)!, timePoints: points)
    }

    // MARK: plans

    /// Submits a plan (pending the committee's decision), with its first risk class on record.
    public func addPlan(institutionCode: String, productCode: String, indication: String, risk: RiskClass,
                        protocolCode: String? = nil, actor: String) async throws -> TreatmentPlan {
        let today = today()
        return try await database.transaction(actor: actor) { c in
            let inst = try await c.query("SELECT id, status FROM institution WHERE code = \(institutionCode)", logger: logger)
            guard let (institutionID, status) = try await inst.decode((Int, String).self).first(where: { _ in true }) else {
                throw Self.unknownInstitution(institutionCode)
            }
            guard status == InstitutionStatus.active.rawValue else {
                throw RegistryError.conflict("institution", "institution \(institutionCode) is \(status); only active institutions may submit plans")
            }
            let prod = try await c.query("SELECT id, follow_up_class FROM product WHERE code = \(productCode)", logger: logger)
            guard let (productID, cls) = try await prod.decode((Int, String).self).first(where: { _ in true }) else {
                throw RegistryError.notFound("product", "no product has code \(productCode)", hint: "list them with: registry product list")
            }
            let code = protocolCode ?? FollowUpProtocol.standard(for: FollowUpClass(rawValue: cls)!).code
            let proto = try await c.query("""
                SELECT id, follow_up_class FROM follow_up_protocol WHERE code = \(code) ORDER BY version DESC LIMIT 1
                """, logger: logger)
            guard let (protocolID, protocolClass) = try await proto.decode((Int, String).self).first(where: { _ in true }) else {
                throw RegistryError.notFound("protocol", "no follow-up protocol has code \(code)")
            }
            guard protocolClass == cls else {
                throw RegistryError.invalid("protocol", "protocol \(code) is for \(protocolClass) products but \(productCode) is a \(cls) product")
            }
            let rows = try await c.query("""
                INSERT INTO treatment_plan (institution_id, product_id, protocol_id, indication, risk_class)
                VALUES (\(institutionID), \(productID), \(protocolID), \(indication), \(risk.rawValue)) RETURNING id
                """, logger: logger)
            let id = try await rows.decode(Int.self).first(where: { _ in true })!
            try await c.query("""
                INSERT INTO plan_risk_change (plan_id, risk_class, changed_on, reason)
                VALUES (\(id), \(risk.rawValue), \(today), 'initial risk class at submission')
                """, logger: logger)
            return try await Self.plan(id: id, connection: c, logger: logger)
        }
    }

    /// Records the review committee's decision on a plan.
    public func decidePlan(id: Int, _ record: PlanDecisionRecord, actor: String) async throws -> TreatmentPlan {
        try await database.transaction(actor: actor, reason: "committee decision \(record.reference)") { c in
            let plan = try await Self.plan(id: id, connection: c, logger: logger, lock: true)
            guard plan.decision.allows(record.decision) else {
                throw RegistryError.conflict("decision", "plan \(id) is already \(plan.decision.rawValue); it cannot become \(record.decision.rawValue)",
                    hint: plan.decision == .approved ? "an approved plan can only be withdrawn" : "rejected and withdrawn plans are final")
            }
            if let earlier = plan.decidedOn, record.on < earlier {
                throw RegistryError.invalid("on", "\(record.on) is before the plan's earlier decision on \(earlier)")
            }
            try await c.query("""
                UPDATE treatment_plan SET decision = \(record.decision.rawValue), decided_on = \(record.on),
                       committee_reference = \(record.reference) WHERE id = \(id)
                """, logger: logger)
            return try await Self.plan(id: id, connection: c, logger: logger)
        }
    }

    /// Changes a plan's risk class, keeping every earlier class in its history.
    public func changePlanRisk(id: Int, to risk: RiskClass, on: LocalDate, reason: String, actor: String) async throws -> TreatmentPlan {
        try await database.transaction(actor: actor, reason: reason) { c in
            let plan = try await Self.plan(id: id, connection: c, logger: logger, lock: true)
            guard plan.riskClass != risk else {
                throw RegistryError.conflict("risk", "plan \(id) is already \(risk.rawValue) risk")
            }
            try await c.query("INSERT INTO plan_risk_change (plan_id, risk_class, changed_on, reason) VALUES (\(id), \(risk.rawValue), \(on), \(reason))", logger: logger)
            try await c.query("UPDATE treatment_plan SET risk_class = \(risk.rawValue) WHERE id = \(id)", logger: logger)
            return try await Self.plan(id: id, connection: c, logger: logger)
        }
    }

    /// A plan's risk classes, oldest first.
    public func riskHistory(planID: Int) async throws -> [(riskClass: RiskClass, on: LocalDate, reason: String)] {
        try await database.read { c in
            _ = try await Self.plan(id: planID, connection: c, logger: logger)
            var out: [(RiskClass, LocalDate, String)] = []
            for try await (risk, on, reason) in try await c.query(
                "SELECT risk_class, changed_on, reason FROM plan_risk_change WHERE plan_id = \(planID) ORDER BY id",
                logger: logger).decode((String, LocalDate, String).self) {
                out.append((RiskClass(rawValue: risk)!, on, reason))
            }
            return out.map { (riskClass: $0.0, on: $0.1, reason: $0.2) }
        }
    }

    /// Plans, optionally of one institution.
    public func plans(institutionCode: String? = nil) async throws -> [TreatmentPlan] {
        try await database.read { c in
            try await Self.plans(c.query("""
                \(unescaped: Self.planSelect) WHERE (\(institutionCode)::text IS NULL OR i.code = \(institutionCode)) ORDER BY p.id
                """, logger: logger))
        }
    }

    /// One plan.
    public func plan(id: Int) async throws -> TreatmentPlan {
        try await database.read { c in try await Self.plan(id: id, connection: c, logger: logger) }
    }

    static let planSelect = """
        SELECT p.id, i.code, pr.code, p.indication, p.risk_class, p.decision, p.decided_on, p.committee_reference, fp.code, fp.version
        FROM treatment_plan p JOIN institution i ON i.id = p.institution_id JOIN product pr ON pr.id = p.product_id
        JOIN follow_up_protocol fp ON fp.id = p.protocol_id
        """

    static func plan(id: Int, connection c: PostgresConnection, logger: Logger, lock: Bool = false) async throws -> TreatmentPlan {
        let rows = try await c.query("\(unescaped: planSelect) WHERE p.id = \(id) \(unescaped: lock ? "FOR UPDATE OF p" : "")", logger: logger)
        guard let plan = try await plans(rows).first else {
            throw RegistryError.notFound("plan", "no plan has id \(id)", hint: "list them with: registry plan list")
        }
        return plan
    }

    static func plans(_ rows: PostgresRowSequence) async throws -> [TreatmentPlan] {
        var out: [TreatmentPlan] = []
        for try await (id, inst, prod, indication, risk, decision, decidedOn, reference, protocolCode, protocolVersion)
            in rows.decode((Int, String, String, String, String, String, LocalDate?, String?, String, Int32).self) {
            out.append(TreatmentPlan(id: id, institutionCode: inst, productCode: prod, indication: indication,
                                     riskClass: RiskClass(rawValue: risk)!, decision: PlanDecision(rawValue: decision)!,
                                     decidedOn: decidedOn, committeeReference: reference,
                                     protocolCode: protocolCode, protocolVersion: Int(protocolVersion)))
        }
        return out
    }

    // MARK: patients

    /// Enrols a patient; the same institution and local key find the same patient again.
    /// Returns the patient and whether this call created it.
    public func enroll(_ new: NewPatient, actor: String) async throws -> (patient: Patient, created: Bool) {
        try await database.transaction(actor: actor) { c in
            let inst = try await c.query("SELECT id, status FROM institution WHERE code = \(new.institutionCode)", logger: logger)
            guard let (institutionID, status) = try await inst.decode((Int, String).self).first(where: { _ in true }) else {
                throw Self.unknownInstitution(new.institutionCode)
            }
            let inserted = try await c.query("""
                INSERT INTO patient (pseudonym, enrolled_by, institution_id, birth_year, sex, consent_on, consent_version)
                SELECT \(new.pseudonym), \(institutionID), \(institutionID), \(Int16(new.birthYear)), \(new.sex.rawValue),
                       \(new.consentOn), \(new.consentVersion)
                WHERE \(status) = 'active'
                ON CONFLICT (pseudonym) DO NOTHING RETURNING id
                """, logger: logger)
            if let id = try await inserted.decode(Int.self).first(where: { _ in true }) {
                return (try await Self.patient(id: id, connection: c, logger: logger), true)
            }
            let existing = try await c.query("SELECT id FROM patient WHERE pseudonym = \(new.pseudonym)", logger: logger)
            guard let id = try await existing.decode(Int.self).first(where: { _ in true }) else {
                guard status == InstitutionStatus.active.rawValue else {
                    throw RegistryError.conflict("institution", "institution \(new.institutionCode) is \(status); only active institutions may enrol patients")
                }
                // Only under row-level security: the patient exists but was transferred away.
                throw RegistryError.conflict("local-id", "this local key's patient was transferred to another institution and is no longer held by \(new.institutionCode)")
            }
            let patient = try await Self.patient(id: id, connection: c, logger: logger)
            // Same key, different facts: most likely a mistyped key, so say which field differs.
            if patient.birthYear != new.birthYear {
                throw RegistryError.conflict("birth-year", "this local key is already enrolled as patient \(id) with birth year \(patient.birthYear), not \(new.birthYear)",
                                             hint: "check the local patient key; correct the existing record instead if it is wrong")
            }
            if patient.sex != new.sex {
                throw RegistryError.conflict("sex", "this local key is already enrolled as patient \(id) with sex \(patient.sex.rawValue), not \(new.sex.rawValue)",
                                             hint: "check the local patient key")
            }
            return (patient, false)
        }
    }

    /// One patient by registry id.
    public func patient(id: Int) async throws -> Patient {
        try await database.read { c in try await Self.patient(id: id, connection: c, logger: logger) }
    }

    static let patientSelect = """
        SELECT p.id, p.pseudonym, i.code, p.birth_year, p.sex, p.consent_on, p.consent_version, p.status
        FROM patient p JOIN institution i ON i.id = p.institution_id
        """

    static func patient(id: Int, connection c: PostgresConnection, logger: Logger, lock: Bool = false) async throws -> Patient {
        let rows = try await c.query("\(unescaped: patientSelect) WHERE p.id = \(id) \(unescaped: lock ? "FOR UPDATE OF p" : "")", logger: logger)
        for try await (id, pseudonym, inst, birthYear, sex, consentOn, version, status)
            in rows.decode((Int, String, String, Int16, String, LocalDate, String, String).self) {
            return Patient(id: id, pseudonym: pseudonym, institutionCode: inst, birthYear: Int(birthYear), sex: Sex(rawValue: sex)!,
                           consentOn: consentOn, consentVersion: version, status: PatientStatus(rawValue: status)!)
        }
        throw RegistryError.notFound("patient", "no patient has id \(id)")
    }

    // MARK: administrations

    /// Records a dose and generates its follow-up schedule from the plan's protocol, in one
    /// transaction. Refuses plans not approved, inactive institutions and patients of another
    /// institution.
    public func administer(patientID: Int, planID: Int, _ new: NewAdministration, actor: String) async throws -> (administration: Administration, followUps: [FollowUp]) {
        try await database.transaction(actor: actor) { c in
            let plan = try await Self.plan(id: planID, connection: c, logger: logger)
            let patient = try await Self.patient(id: patientID, connection: c, logger: logger, lock: true)
            let inst = try await c.query("SELECT id, status FROM institution WHERE code = \(plan.institutionCode) FOR SHARE", logger: logger)
            let (institutionID, status) = try await inst.decode((Int, String).self).first(where: { _ in true })!
            try NewAdministration.checkEligibility(on: new.administeredOn, plan: plan,
                                                   institutionStatus: InstitutionStatus(rawValue: status)!, patient: patient)
            let rows = try await c.query("""
                INSERT INTO administration (patient_id, plan_id, institution_id, administered_on, lot, dose, fee_notified_krw, fee_collected_krw)
                VALUES (\(patientID), \(planID), \(institutionID), \(new.administeredOn), \(new.lot), \(new.dose), \(new.feeNotifiedKRW), \(new.feeCollectedKRW))
                RETURNING id
                """, logger: logger)
            let id = try await rows.decode(Int.self).first(where: { _ in true })!
            let protocolRow = try await c.query("SELECT protocol_id FROM treatment_plan WHERE id = \(planID)", logger: logger)
            let protocolID = try await protocolRow.decode(Int.self).first(where: { _ in true })!
            let proto = try await Self.loadProtocol(id: protocolID, connection: c, logger: logger)
            let planned = FollowUpSchedule.plan(protocol: proto, anchor: new.administeredOn)
            try await c.query("""
                INSERT INTO follow_up (administration_id, patient_id, institution_id, seq, label, due_on, window_start, window_end, contact_type)
                SELECT \(id), \(patientID), \(institutionID), s, l, d::date, ws::date, we::date, t
                FROM unnest(\(planned.map(\.sequence)), \(planned.map(\.label)), \(planned.map(\.due.description)),
                            \(planned.map(\.windowStart.description)), \(planned.map(\.windowEnd.description)),
                            \(planned.map(\.contactType.rawValue))) AS x(s, l, d, ws, we, t)
                """, logger: logger)
            let administration = Administration(id: id, patientID: patientID, planID: planID, institutionCode: plan.institutionCode,
                                                productCode: plan.productCode, administeredOn: new.administeredOn, lot: new.lot, dose: new.dose,
                                                feeNotifiedKRW: new.feeNotifiedKRW, feeCollectedKRW: new.feeCollectedKRW)
            let followUps = try await Self.followUps(c.query("\(unescaped: Self.followUpSelect) WHERE f.administration_id = \(id) ORDER BY f.seq", logger: logger))
            return (administration, followUps)
        }
    }

    /// Administrations of a patient, or of a product lot (traceability both ways).
    public func administrations(patientID: Int? = nil, lot: String? = nil) async throws -> [Administration] {
        try await database.read { c in
            let rows = try await c.query("""
                SELECT a.id, a.patient_id, a.plan_id, i.code, pr.code, a.administered_on, a.lot, a.dose, a.fee_notified_krw, a.fee_collected_krw
                FROM administration a JOIN institution i ON i.id = a.institution_id
                JOIN treatment_plan p ON p.id = a.plan_id JOIN product pr ON pr.id = p.product_id
                WHERE (\(patientID)::bigint IS NULL OR a.patient_id = \(patientID)) AND (\(lot)::text IS NULL OR a.lot = \(lot))
                ORDER BY a.administered_on, a.id
                """, logger: logger)
            var out: [Administration] = []
            for try await (id, patient, plan, inst, prod, on, lot, dose, notified, collected)
                in rows.decode((Int, Int, Int, String, String, LocalDate, String, String, Int, Int).self) {
                out.append(Administration(id: id, patientID: patient, planID: plan, institutionCode: inst, productCode: prod,
                                          administeredOn: on, lot: lot, dose: dose, feeNotifiedKRW: notified, feeCollectedKRW: collected))
            }
            return out
        }
    }

    // MARK: follow-ups

    static let followUpSelect = """
        SELECT f.id, f.administration_id, f.patient_id, i.code, f.seq, f.label, f.due_on, f.window_start, f.window_end, f.contact_type, f.status
        FROM follow_up f JOIN institution i ON i.id = f.institution_id
        """

    /// A patient's follow-ups, in due order.
    public func followUps(patientID: Int) async throws -> [FollowUp] {
        try await database.read { c in
            _ = try await Self.patient(id: patientID, connection: c, logger: logger)
            return try await Self.followUps(c.query("\(unescaped: Self.followUpSelect) WHERE f.patient_id = \(patientID) ORDER BY f.due_on, f.id", logger: logger))
        }
    }

    /// An institution's follow-ups due before a date, in due order, at most `limit`, after the
    /// follow-up `after` (its due date and id) when paging.
    public func followUps(institutionCode: String, dueBefore: LocalDate, status: FollowUpStatus? = nil,
                          after: (due: LocalDate, id: Int)? = nil, limit: Int = 1000) async throws -> [FollowUp] {
        try await database.read { c in
            let inst = try await c.query("SELECT id FROM institution WHERE code = \(institutionCode)", logger: logger)
            guard let institutionID = try await inst.decode(Int.self).first(where: { _ in true }) else {
                throw Self.unknownInstitution(institutionCode)
            }
            return try await Self.followUps(c.query("""
                \(unescaped: Self.followUpSelect) WHERE f.institution_id = \(institutionID) AND f.due_on < \(dueBefore)
                AND (\(status?.rawValue)::text IS NULL OR f.status = \(status?.rawValue))
                AND (f.due_on, f.id) > (\(after?.due ?? LocalDate(dayNumber: -100_000)), \(after?.id ?? 0))
                ORDER BY f.due_on, f.id LIMIT \(limit)
                """, logger: logger))
        }
    }

    static func followUps(_ rows: PostgresRowSequence) async throws -> [FollowUp] {
        var out: [FollowUp] = []
        for try await (id, admin, patient, inst, seq, label, due, start, end, contact, status)
            in rows.decode((Int, Int, Int, String, Int16, String, LocalDate, LocalDate, LocalDate, String, String).self) {
            out.append(FollowUp(id: id, administrationID: admin, patientID: patient, institutionCode: inst, sequence: Int(seq),
                                label: label, due: due, windowStart: start, windowEnd: end,
                                contactType: ContactType(rawValue: contact)!, status: FollowUpStatus(rawValue: status)!))
        }
        return out
    }
}

extension RegistryStore {
    /// Every stored protocol by id, with its time points.
    public func protocols() async throws -> [Int: FollowUpProtocol] {
        try await database.read { c in
            var ids: [Int] = []
            for try await id in try await c.query("SELECT id FROM follow_up_protocol ORDER BY id", logger: logger).decode(Int.self) { ids.append(id) }
            var out: [Int: FollowUpProtocol] = [:]
            for id in ids { out[id] = try await Self.loadProtocol(id: id, connection: c, logger: logger) }
            return out
        }
    }
}
