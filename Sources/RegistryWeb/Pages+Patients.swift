import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

extension RegistryWeb {
    /// Finding a patient (by the hospital's own number, which is turned into the pseudonym and
    /// forgotten, or by pseudonym), enrolling one, and the patient page: one timeline of
    /// everything recorded, the schedule with each follow-up's state, and the actions.
    func addPatientRoutes(_ router: Router<Context>) {
        router.get("/app/patients") { request, context in
            try await patientsPage(request, context, localIDError: nil)
        }

        // The local number travels in the body, never in a URL or a log line.
        router.post("/app/patients/find") { request, context in
            try await submit(request, context, roles: [.coordinator], refused: { error, _ in
                try await patientsPage(request, context, localIDError: error)
            }) { form, tx, session in
                let key = try LocalPatientKey(institutionCode: session.user.institutionCode ?? "", localID: form["local-id"] ?? "",
                                              pseudonymizer: pseudonymizer)
                do {
                    let patient = try await tx.patients.lookup(key)
                    return Views.redirect("/app/patients/\(patient.id.rawValue)")
                } catch let error as RegistryError where error.code == .notFound {
                    throw RegistryError.notFound("local-id", "no patient of \(key.institutionCode) has this local number")
                }
            }
        }

        router.get("/app/patients/new") { request, context in
            try await enrolPage(request, context, error: nil, typed: [:])
        }

        router.post("/app/patients/new") { request, context in
            try await submit(request, context, roles: [.coordinator], refused: { error, form in
                try await enrolPage(request, context, error: error, typed: form.typed)
            }) { form, tx, session in
                var checks = FieldChecks()
                let yearText = form["birth-year"] ?? ""
                let year = Int(yearText)
                if year == nil {
                    checks.refuse(.invalid("birth-year", "'\(yearText)' is not a year; give the four-digit year of birth, e.g. 1961"))
                }
                let new = checks.check { () throws(RegistryError) in
                    try NewPatient(institutionCode: session.user.institutionCode ?? "", localID: form["local-id"] ?? "",
                                   birthYear: year ?? 2000, sex: form["sex"] ?? "", consentOn: form["consent-on"] ?? "",
                                   consentVersion: form["consent-version"] ?? "", pseudonymizer: pseudonymizer, today: database.today())
                }
                try checks.finish()
                let (patient, created) = try await tx.patients.enroll(new!)
                guard created else {
                    throw RegistryError.conflict("local-id", "this local number is already enrolled as \(patient.pseudonym)")
                }
                return Views.redirect("/app/patients/\(patient.id.rawValue)?enrolled=1")
            }
        }

        router.get("/app/patients/:id") { request, context in
            let id = try patientID(context)
            return try await page(request, context, roles: [.coordinator]) { tx, session in
                let record = try await tx.patients.record(id: id)
                var values = patientValues(record, context.language)
                // The patient is this site's (row-level security found it): its corrections and voids
                // are read from the audit trail, which is outside that security.
                let changes = try await database.read { owner in try await owner.history.changes(patientID: id) }
                values["changes"] = changes.map { change in
                    ["at": Self.seoulTime(change.at), "actor": change.actor, "reason": change.reason,
                     "records": change.entities.map { views.catalogue.text("entity_\($0)", context.language) }.joined(separator: ", ")] as [String: Any]
                }
                values["has_changes"] = !changes.isEmpty
                for (flag, key) in [("enrolled", "patient_enrolled"), ("logged", "worklist_logged"), ("dosed", "patient_dosed"), ("reported", "patient_reported"),
                                    ("submitted", "patient_submitted"), ("changed", "patient_changed"), ("corrected", "patient_corrected"),
                                    ("voided", "patient_voided")] where request.uri.queryParameters.get(flag) != nil {
                    values["notice"] = views.catalogue.text(key, context.language)
                }
                return views.page("patient", title: "patient_title", values, request: request, context: context, session: session)
            }
        }
    }

    func patientID(_ context: Context) throws -> PatientID {
        guard let text = context.parameters.get("id"), let id = Int(text), id > 0 else { throw HTTPError(.notFound) }
        return PatientID(rawValue: id)
    }

    func patientsPage(_ request: Request, _ context: Context, localIDError: RegistryError?) async throws -> Response {
        let prefix = Form(request.uri.query ?? "")["pseudonym"].map { String($0.prefix(64)) }
        return try await page(request, context, roles: [.coordinator]) { tx, session in
            let patients = try await tx.patients.list(institutionCode: session.user.institutionCode, pseudonymPrefix: prefix?.isEmpty == false ? prefix : nil,
                                                      limit: configuration.pageSize)
            let (byField, summary) = fieldErrors(localIDError, context.language)
            let notice = request.uri.queryParameters.get("transferred") != nil ? views.catalogue.text("patients_transferred", context.language) : nil
            let rows: [[String: Any]] = patients.map { p in
                ["id": p.id.rawValue, "pseudonym": Self.short(p.pseudonym), "full": p.pseudonym, "birth_year": p.birthYear, "sex": word("sex", p.sex, context.language),
                 "status": word("pstatus", p.status, context.language), "consent_on": p.consentOn.description]
            }
            return views.page("patients", title: "patients_title",
                              ["rows": rows, "empty": rows.isEmpty, "pseudonym": prefix ?? "", "errors": byField, "summary": summary,
                               "has_errors": !summary.isEmpty, "notice": notice as Any],
                              request: request, context: context, session: session, status: localIDError == nil ? .ok : .unprocessableContent)
        }
    }

    func enrolPage(_ request: Request, _ context: Context, error: RegistryError?, typed: [String: String]) async throws -> Response {
        try await page(request, context, roles: [.coordinator]) { _, session in
            let (byField, summary) = fieldErrors(error, context.language)
            let sexes: [[String: Any]] = Sex.allCases.map { s in
                ["value": s.rawValue, "label": word("sex", s, context.language), "checked": typed["sex"] == s.rawValue]
            }
            return views.page("enrol", title: "enrol_title",
                              ["errors": byField, "summary": summary, "has_errors": !summary.isEmpty, "typed": typed, "sexes": sexes,
                               "today": database.today().description, "institution": session.user.institutionCode ?? ""],
                              request: request, context: context, session: session, status: error == nil ? .ok : .unprocessableContent)
        }
    }

    /// An enumeration's value in words: the catalogue's `prefix_rawValue`.
    func word<E: RawRepresentable>(_ prefix: String, _ value: E, _ language: Language) -> String where E.RawValue == String {
        views.catalogue.text("\(prefix)_\(value.rawValue)", language)
    }

    /// A follow-up's state in words: overdue (days, since, escalation), completed (when, timing),
    /// not done (why), missed, not required, withdrawn with its dose.
    func stateText(_ f: FollowUp, _ language: Language) -> String {
        let c = views.catalogue
        let s = f.state
        switch f.status {
        case .scheduled:
            guard s.daysOverdue > 0 else { return c.text("fstate_scheduled", language) }
            var text = c.text("worklist_days_overdue", language, String(s.daysOverdue))
            if s.escalationLevel > 0 { text += " · " + c.text("worklist_escalation", language, String(s.escalationLevel)) }
            return text
        case .completed:
            return c.text("fstate_completed", language, s.completedOn?.description ?? "") + (s.timing.map { " · " + word("timing", $0, language) } ?? "")
        case .notDone:
            return c.text("fstate_not_done", language) + (s.notDoneReason.map { " · " + word("notdone", $0, language) } ?? "")
        case .notRequired: return c.text("fstate_not_required", language)
        case .missed: return c.text("fstate_missed", language, s.missedOn?.description ?? "")
        case .voided: return c.text("fstate_voided", language)
        }
    }

    /// A moment as people in Korea read it: Seoul time, ISO 8601 to the minute.
    static func seoulTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "Asia/Seoul")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    /// A pseudonym as pages show it: its first 12 characters, enough to tell patients apart
    /// (the full one is on the patient page and in the page's title attribute).
    static func short(_ pseudonym: String) -> String {
        pseudonym.count > 14 ? String(pseudonym.prefix(12)) + "…" : pseudonym
    }

    /// A timeline item's links (correct, void), in words.
    func recordActions(_ links: [(href: String, key: String)], _ language: Language) -> [[String: Any]] {
        links.map { ["href": $0.href, "label": views.catalogue.text($0.key, language)] as [String: Any] }
    }

    /// Everything the patient page shows.
    func patientValues(_ record: PatientRecord, _ language: Language) -> [String: Any] {
        let c = views.catalogue
        let p = record.patient
        let followUps: [[String: Any]] = record.followUps.map { f in
            ["id": f.id.rawValue, "label": f.label, "due": f.due.description, "window": "\(f.windowStart) – \(f.windowEnd)",
             "contact": word("contact", f.contactType, language), "state": stateText(f, language),
             "open": f.status == .scheduled && p.status == .active, "overdue": f.status == .scheduled && f.state.daysOverdue > 0,
             "done": f.status == .completed, "institution": f.institutionCode]
        }
        // One timeline, newest first: doses, visits, adverse events, status changes; voided ones kept and marked.
        var events: [(on: LocalDate, order: Int, item: [String: Any])] = []
        for a in record.administrations {
            events.append((a.administeredOn, 0, [
                "on": a.administeredOn.description, "kind": c.text("timeline_dose", language),
                "text": c.text("timeline_dose_text", language, a.productCode, a.lot, a.dose, Self.grouped(a.feeCollectedKRW)),
                "voided": a.void != nil, "void_reason": a.void?.reason ?? "",
                "actions": a.void == nil ? recordActions([("/app/doses/\(a.id.rawValue)/correct", "action_correct"),
                                                          ("/app/records/doses/\(a.id.rawValue)/void", "action_void")], language) : [],
            ]))
        }
        for v in record.visits {
            var text = word("contact", v.contactType, language) + " · " + word("vital", v.vitalStatus, language)
            if let timing = v.timing { text += " · " + word("timing", timing, language) }
            if v.screening { text += " · " + c.text("visit_screening", language) }
            if v.contactDeviation != nil { text += " · " + c.text("visit_deviation", language) }
            if !v.measures.isEmpty { text += " · " + c.text("visit_measures", language, String(v.measures.count)) }
            events.append((v.visitedOn, 1, [
                "on": v.visitedOn.description, "kind": c.text("timeline_visit", language), "text": text,
                "voided": v.void != nil, "void_reason": v.void?.reason ?? "",
                "actions": v.void == nil ? recordActions([("/app/visits/\(v.id.rawValue)/correct", "action_correct"),
                                                          ("/app/records/visits/\(v.id.rawValue)/void", "action_void")], language) : [],
            ]))
        }
        for e in record.adverseEvents {
            var text = "\(e.term) · \(word("aecat", e.category, language)) · \(c.text("ae_grade_n", language, String(e.grade)))"
            if e.serious { text += " · " + c.text("ae_serious", language) }
            if let due = e.reportDueOn {
                text += " · " + (e.reportSubmittedOn.map { c.text("ae_reported_on", language, $0.description) }
                    ?? c.text("ae_report_due", language, due.description))
            }
            events.append((e.onsetOn, 2, [
                "on": e.onsetOn.description, "kind": c.text("timeline_event", language), "text": text,
                "voided": e.void != nil, "void_reason": e.void?.reason ?? "", "serious": e.serious,
                "report_pending": e.void == nil && e.reportDueOn != nil && e.reportSubmittedOn == nil, "event_id": e.id.rawValue,
                "actions": e.void == nil ? recordActions([("/app/adverse-events/\(e.id.rawValue)/correct", "action_correct"),
                                                          ("/app/records/adverse-events/\(e.id.rawValue)/void", "action_void")], language) : [],
            ]))
        }
        for s in record.statusChanges {
            var text = word("kind", s.kind, language)
            if let to = s.toInstitution { text += " → \(to)" }
            text += " · \(s.reason)"
            events.append((s.effectiveOn, 3, [
                "on": s.effectiveOn.description, "kind": c.text("timeline_status", language), "text": text,
                "voided": s.void != nil, "void_reason": s.void?.reason ?? "",
                "actions": s.void == nil ? recordActions([("/app/records/status-changes/\(s.id.rawValue)/void", "action_void")], language) : [],
            ]))
        }
        let timeline = events.sorted { $0.on != $1.on ? $0.on > $1.on : $0.order > $1.order }.map(\.item)
        return [
            "patient": [
                "id": p.id.rawValue, "pseudonym": Self.short(p.pseudonym), "full": p.pseudonym, "birth_year": p.birthYear, "sex": word("sex", p.sex, language),
                "status": word("pstatus", p.status, language), "active": p.status == .active, "consent_on": p.consentOn.description,
                "consent_version": p.consentVersion, "institution": p.institutionCode,
            ] as [String: Any],
            "follow_ups": followUps, "has_follow_ups": !followUps.isEmpty,
            "timeline": timeline, "has_timeline": !timeline.isEmpty, "today": database.today().description,
        ]
    }
}
