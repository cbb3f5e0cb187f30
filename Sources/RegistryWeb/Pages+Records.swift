import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

extension RegistryWeb {
    /// The rest of a coordinator's day on one patient: a dose (and the schedule it generates), an
    /// adverse event (and its expedited report), a status change (death, withdrawal, loss, found,
    /// transfer), and signed corrections and voids of visits.
    func addRecordRoutes(_ router: Router<Context>) {
        router.get("/app/patients/:id/dose") { request, context in try await dosePage(request, context, error: nil, typed: [:]) }
        router.post("/app/patients/:id/dose") { request, context in
            let id = try patientID(context)
            return try await submit(request, context, roles: [.coordinator], refused: { error, form in
                try await dosePage(request, context, error: error, typed: form.typed)
            }) { form, tx, _ in
                var checks = FieldChecks()
                let plan = checks.check { () throws(RegistryError) in try Self.whole(form["plan"], field: "plan", example: "12") }
                let notified = checks.check { () throws(RegistryError) in try Self.whole(form["fee-notified"], field: "fee-notified", example: "15000000") }
                let collected = checks.check { () throws(RegistryError) in try Self.whole(form["fee-collected"], field: "fee-collected", example: "15000000") }
                let new = checks.check { () throws(RegistryError) in
                    try NewAdministration(on: form["on"] ?? "", lot: form["lot"] ?? "", dose: form["dose"] ?? "", feeNotified: notified ?? 0,
                                          feeCollected: collected ?? 0, today: database.today())
                }
                try checks.finish()
                _ = try await tx.patients.patient(id: id)
                _ = try await tx.administrations.administer(patientID: id, planID: PlanID(rawValue: plan!), new!)
                return Views.redirect("/app/patients/\(id.rawValue)?dosed=1")
            }
        }

        router.get("/app/patients/:id/adverse-event") { request, context in try await eventPage(request, context, error: nil, form: nil) }
        router.post("/app/patients/:id/adverse-event") { request, context in
            let id = try patientID(context)
            return try await submit(request, context, roles: [.coordinator], refused: { error, form in
                try await eventPage(request, context, error: error, form: form)
            }) { form, tx, _ in
                var checks = FieldChecks()
                let grade = checks.check { () throws(RegistryError) in try Self.whole(form["grade"], field: "grade", example: "3") }
                let new = checks.check { () throws(RegistryError) in
                    var new = try NewAdverseEvent(onset: form["onset"] ?? "", aware: form["aware"] ?? "", term: form["term"] ?? "", meddra: form["meddra"],
                                                  category: form["category"] ?? "", grade: grade ?? 1, grading: form["grading"] ?? GradingSystem.ctcae5.description,
                                                  serious: form.ticked("serious"), criteria: form.all("criteria"), related: form["related"],
                                                  outcome: form["outcome"], outcomeOn: form["outcome-on"], today: database.today())
                    new.markedDistinct = form.ticked("distinct")
                    return new
                }
                try checks.finish()
                _ = try await tx.adverseEvents.report(patientID: id, new!, confirm: form.ticked("confirm"))
                return Views.redirect("/app/patients/\(id.rawValue)?reported=1")
            }
        }

        router.get("/app/adverse-events/:id/correct") { request, context in
            try await eventPage(request, context, error: nil, form: nil, correcting: try eventID(context))
        }
        router.post("/app/adverse-events/:id/correct") { request, context in
            let id = try eventID(context)
            return try await submit(request, context, roles: [.coordinator], refused: { error, form in
                try await eventPage(request, context, error: error, form: form, correcting: id)
            }) { form, tx, session in
                var checks = FieldChecks()
                try await checkSignature(form, tx, session, into: &checks)
                let before = Self.prefill(try await tx.adverseEvents.adverseEvent(id: id))
                // Only what the person changed is corrected.
                func changed(_ name: String) -> String? { form[name] == before[name] ? nil : (form[name] ?? "") }
                let criteria = Set(form.all("criteria")) == Set(before.all("criteria")) ? nil : form.all("criteria")
                let serious = form.ticked("serious") == before.ticked("serious") ? nil : form.ticked("serious")
                let grade = changed("grade").flatMap { g in checks.check { () throws(RegistryError) in try Self.whole(g, field: "grade", example: "3") } }
                let c = checks.check { () throws(RegistryError) in
                    try AdverseEventCorrection(onset: changed("onset"), aware: changed("aware"), term: changed("term"), meddra: changed("meddra"),
                                               category: changed("category"), grade: grade, grading: changed("grading"), serious: serious,
                                               criteria: criteria, related: changed("related"), outcome: changed("outcome"),
                                               outcomeOn: changed("outcome-on"), submittedOn: nil, reason: form["reason"], today: database.today())
                }
                try checks.finish()
                var signed = c!
                signed.reason = Self.signature(session, meaning: "correction", reason: signed.reason)
                let (event, _) = try await tx.adverseEvents.correct(id: id, signed, confirm: form.ticked("confirm"))
                return Views.redirect("/app/patients/\(event.patientID.rawValue)?corrected=1")
            }
        }

        router.post("/app/adverse-events/:id/submission") { request, context in
            guard let text = context.parameters.get("id"), let raw = Int(text) else { throw HTTPError(.notFound) }
            let id = AdverseEventID(rawValue: raw)
            return try await submit(request, context, roles: [.coordinator], refused: { error, _ in
                throw error
            }) { form, tx, _ in
                let date = try Rules.date(form["on"] ?? "", field: "on")
                try Rules.eventDate(date, field: "on", today: database.today())
                let event = try await tx.adverseEvents.submitReport(adverseEventID: id, on: date)
                return Views.redirect("/app/patients/\(event.patientID.rawValue)?submitted=1")
            }
        }

        router.get("/app/patients/:id/status") { request, context in try await statusPage(request, context, error: nil, typed: [:]) }
        router.post("/app/patients/:id/status") { request, context in
            let id = try patientID(context)
            return try await submit(request, context, roles: [.coordinator], refused: { error, form in
                try await statusPage(request, context, error: error, typed: form.typed)
            }) { form, tx, _ in
                let input = try NewStatusChange(kind: form["kind"] ?? "", on: form["on"] ?? "", reason: form["reason"],
                                                to: form["kind"] == StatusChangeKind.transfer.rawValue ? (form["to"] ?? "") : nil, today: database.today())
                _ = try await tx.statusChanges.change(input.kind, patientID: id, on: input.on, reason: input.reason, transferTo: input.transferTo)
                return Views.redirect(input.kind == .transfer ? "/app/patients?transferred=1" : "/app/patients/\(id.rawValue)?changed=1")
            }
        }

        router.get("/app/visits/:id/correct") { request, context in try await visitCorrectionPage(request, context, error: nil, typed: [:]) }
        router.post("/app/visits/:id/correct") { request, context in
            let id = try visitID(context)
            return try await submit(request, context, roles: [.coordinator], refused: { error, form in
                try await visitCorrectionPage(request, context, error: error, typed: form.typed)
            }) { form, tx, session in
                var checks = FieldChecks()
                try await checkSignature(form, tx, session, into: &checks)
                // Only what the person changed is corrected.
                let before = try await tx.visits.visit(id: id)
                func changed(_ name: String, _ current: String?) -> String? { form[name] == current ? nil : (form[name] ?? "") }
                let c = checks.check { () throws(RegistryError) in
                    try VisitCorrection(on: changed("on", before.visitedOn.description), contact: changed("contact", before.contactType.rawValue),
                                        vital: changed("vital", before.vitalStatus.rawValue), measures: [], catalogue: MeasureCatalogue([]),
                                        note: changed("note", before.note), reason: form["reason"], today: database.today())
                }
                try checks.finish()
                let (visit, _) = try await tx.visits.correct(id: id, on: c!.on, contact: c!.contact, vital: c!.vital, measures: c!.measures, note: c!.note,
                                                             reason: Self.signature(session, meaning: "correction", reason: c!.reason),
                                                             confirm: form.ticked("confirm"))
                return Views.redirect("/app/patients/\(visit.patientID.rawValue)?corrected=1")
            }
        }

        router.get("/app/records/:kind/:id/void") { request, context in try await voidPage(request, context, error: nil, typed: [:]) }
        router.post("/app/records/:kind/:id/void") { request, context in
            let (kind, id) = try voidTarget(context)
            return try await submit(request, context, roles: [.coordinator], refused: { error, form in
                try await voidPage(request, context, error: error, typed: form.typed)
            }) { form, tx, session in
                var checks = FieldChecks()
                try await checkSignature(form, tx, session, into: &checks)
                let reason = checks.check { () throws(RegistryError) in try Rules.reason(form["reason"]) }
                try checks.finish()
                let signed = Self.signature(session, meaning: "void", reason: reason!)
                let confirm = form.ticked("confirm")
                let patient: PatientID
                switch kind {
                case .visit: patient = try await tx.visits.void(id: VisitID(rawValue: id), reason: signed, confirm: confirm).0.patientID
                case .adverseEvent: patient = try await tx.adverseEvents.void(id: AdverseEventID(rawValue: id), reason: signed, confirm: confirm).0.patientID
                case .dose: patient = try await tx.administrations.void(id: AdministrationID(rawValue: id), reason: signed, confirm: confirm).0.patientID
                case .statusChange: patient = try await tx.statusChanges.void(id: StatusChangeID(rawValue: id), reason: signed, confirm: confirm).0.patientID
                }
                return Views.redirect("/app/patients/\(patient.rawValue)?voided=1")
            }
        }

        router.get("/app/patients/:id/correct") { request, context in try await patientCorrectionPage(request, context, error: nil, typed: [:]) }
        router.post("/app/patients/:id/correct") { request, context in
            let id = try patientID(context)
            return try await submit(request, context, roles: [.coordinator], refused: { error, form in
                try await patientCorrectionPage(request, context, error: error, typed: form.typed)
            }) { form, tx, session in
                var checks = FieldChecks()
                try await checkSignature(form, tx, session, into: &checks)
                let before = try await tx.patients.patient(id: id)
                func changed(_ name: String, _ current: String) -> String? { form[name] == current ? nil : (form[name] ?? "") }
                let yearText = changed("birth-year", String(before.birthYear))
                let year = yearText.flatMap { text in
                    checks.check { () throws(RegistryError) in try Self.whole(text, field: "birth-year", example: "1961") }
                }
                let correction = checks.check { () throws(RegistryError) in
                    try PatientCorrection(birthYear: year ?? (yearText == nil ? nil : before.birthYear), sex: changed("sex", before.sex.rawValue),
                                          consentOn: changed("consent-on", before.consentOn.description),
                                          consentVersion: changed("consent-version", before.consentVersion), reason: form["reason"], today: database.today())
                }
                try checks.finish()
                var signed = correction!
                signed.reason = Self.signature(session, meaning: "correction", reason: signed.reason)
                _ = try await tx.patients.correct(id: id, signed)
                return Views.redirect("/app/patients/\(id.rawValue)?corrected=1")
            }
        }

        router.get("/app/doses/:id/correct") { request, context in try await doseCorrectionPage(request, context, error: nil, typed: [:]) }
        router.post("/app/doses/:id/correct") { request, context in
            guard let text = context.parameters.get("id"), let raw = Int(text) else { throw HTTPError(.notFound) }
            let id = AdministrationID(rawValue: raw)
            return try await submit(request, context, roles: [.coordinator], refused: { error, form in
                try await doseCorrectionPage(request, context, error: error, typed: form.typed)
            }) { form, tx, session in
                var checks = FieldChecks()
                try await checkSignature(form, tx, session, into: &checks)
                let before = try await tx.administrations.administration(id: id)
                func changed(_ name: String, _ current: String) -> String? { form[name] == current ? nil : (form[name] ?? "") }
                let c = checks.check { () throws(RegistryError) in
                    try AdministrationCorrection(on: changed("on", before.administeredOn.description), lot: changed("lot", before.lot),
                                                 dose: changed("dose", before.dose), feeNotified: nil, feeCollected: nil,
                                                 reason: form["reason"], today: database.today())
                }
                try checks.finish()
                let (dose, _) = try await tx.administrations.correct(id: id, on: c!.on, lot: c!.lot, dose: c!.dose, feeNotified: nil, feeCollected: nil,
                                                                     reason: Self.signature(session, meaning: "correction", reason: c!.reason))
                return Views.redirect("/app/patients/\(dose.patientID.rawValue)?corrected=1")
            }
        }
    }

    func eventID(_ context: Context) throws -> AdverseEventID {
        guard let text = context.parameters.get("id"), let id = Int(text), id > 0 else { throw HTTPError(.notFound) }
        return AdverseEventID(rawValue: id)
    }

    /// An adverse event as its form's fields, to correct it from what is recorded.
    static func prefill(_ e: AdverseEvent) -> Form {
        var pairs: [(String, String)] = [("onset", e.onsetOn.description), ("aware", e.awareOn.description), ("term", e.term),
                                         ("meddra", e.meddraCode ?? ""), ("category", e.category.rawValue), ("grade", String(e.grade)),
                                         ("grading", "\(e.gradingSystem)-\(e.gradingVersion)"), ("related", e.relatedness.rawValue),
                                         ("outcome", e.outcome.rawValue), ("outcome-on", e.outcomeOn?.description ?? "")]
        if e.serious { pairs.append(("serious", "1")) }
        pairs += e.seriousnessCriteria.map { ("criteria", $0.rawValue) }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return Form(pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&"))
    }

    func visitID(_ context: Context) throws -> VisitID {
        guard let text = context.parameters.get("id"), let id = Int(text), id > 0 else { throw HTTPError(.notFound) }
        return VisitID(rawValue: id)
    }

    /// A whole number typed into a form field.
    static func whole(_ text: String?, field: String, example: String) throws(RegistryError) -> Int {
        guard let text, let n = Int(text.replacingOccurrences(of: ",", with: "")) else {
            throw .invalid(field, "'\(text ?? "")' is not a whole number; e.g. \(example)")
        }
        return n
    }

    /// An electronic signature (21 CFR 11.50, 11.200): the person re-enters their password with the
    /// change; a wrong or missing one is refused with every other mistake of the form. What is
    /// stored with the change is `signature(...)`: who signed, what the signature means, and why.
    func checkSignature(_ form: Form, _ tx: Transaction, _ session: WebSession, into checks: inout FieldChecks) async throws {
        let password = form.values["password"]?.first ?? ""
        if password.isEmpty {
            checks.refuse(.invalid("password", "sign with your password to make this change"))
        } else if try await !tx.users.verifyPassword(userID: session.user.id, password: password) {
            checks.refuse(.invalid("password", "the password is not right; the change was not signed"))
        }
    }

    /// The reason as stored with a signed change: "signed by NAME (MEANING): REASON".
    static func signature(_ session: WebSession, meaning: String, reason: String) -> String {
        "signed by \(session.user.username) (\(meaning)): \(reason)"
    }

    /// Consequences a refusal asks the person to confirm, in words.
    func consequences(_ error: RegistryError?, _ language: Language) -> [String] {
        guard let error, case .confirm(let list)? = error.remedy else { return [] }
        return list.map { views.catalogue.refusal($0.text, language) }
    }

    func dosePage(_ request: Request, _ context: Context, error: RegistryError?, typed: [String: String]) async throws -> Response {
        let id = try patientID(context)
        return try await page(request, context, roles: [.coordinator]) { tx, session in
            let patient = try await tx.patients.patient(id: id)
            let plans = try await tx.plans.list(institutionCode: session.user.institutionCode).filter { $0.decision == .approved }
            let (byField, summary) = fieldErrors(error, context.language)
            let values: [String: Any] = [
                "patient": ["id": patient.id.rawValue, "pseudonym": Self.short(patient.pseudonym)] as [String: Any],
                "plans": plans.map { p in
                    ["id": p.id.rawValue, "label": "\(p.productCode) · \(p.indication) · \(p.protocolCode) v\(p.protocolVersion)",
                     "selected": typed["plan"] == String(p.id.rawValue) || plans.count == 1] as [String: Any]
                },
                "no_plans": plans.isEmpty, "typed": typed, "today": database.today().description,
                "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
            ]
            return views.page("dose", title: "dose_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }

    func eventPage(_ request: Request, _ context: Context, error: RegistryError?, form: Form?, correcting: AdverseEventID? = nil) async throws -> Response {
        return try await page(request, context, roles: [.coordinator]) { tx, session in
            var form = form
            let patientID: PatientID
            if let correcting {
                let event = try await tx.adverseEvents.adverseEvent(id: correcting)
                patientID = event.patientID
                // A correction starts from the event as recorded.
                form = form ?? Self.prefill(event)
            } else {
                patientID = try self.patientID(context)
            }
            let patient = try await tx.patients.patient(id: patientID)
            let language = context.language
            let typed = form?.typed ?? [:]
            let criteria = Set(form?.all("criteria") ?? [])
            let (byField, summary) = fieldErrors(error, language)
            let clock = try await tx.settings.reportClock()
            func options<E: CaseIterable & RawRepresentable>(_ prefix: String, _: E.Type, _ name: String) -> [[String: Any]] where E.RawValue == String {
                E.allCases.map { v in ["value": v.rawValue, "label": word(prefix, v, language), "selected": typed[name] == v.rawValue] as [String: Any] }
            }
            let values: [String: Any] = [
                "patient": ["id": patient.id.rawValue, "pseudonym": Self.short(patient.pseudonym)] as [String: Any],
                "categories": options("aecat", AdverseEventCategory.self, "category"),
                "related": options("related", Relatedness.self, "related"),
                "outcomes": options("outcome", AdverseEventOutcome.self, "outcome"),
                "criteria": SeriousnessCriterion.allCases.map { c in
                    ["value": c.rawValue, "label": word("criterion", c, language), "checked": criteria.contains(c.rawValue)] as [String: Any]
                },
                "grades": (1...5).map { g in ["value": g, "label": views.catalogue.text("ae_grade_n", language, String(g)), "selected": typed["grade"] == String(g)] as [String: Any] },
                "clock": views.catalogue.text("ae_clock", language, String(clock.fatalOrLifeThreateningDays), String(clock.otherSeriousDays)),
                "grading": typed["grading"] ?? GradingSystem.ctcae5.description, "serious": typed["serious"] != nil, "distinct": typed["distinct"] != nil,
                "typed": typed, "today": database.today().description,
                "consequences": consequences(error, language), "has_consequences": !consequences(error, language).isEmpty,
                "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
                "correcting": correcting != nil, "new_event": correcting == nil, "signer": session.user.username, "reason": typed["reason"] ?? "",
                "heading": views.catalogue.text(correcting == nil ? "ae_title" : "ae_correct_title", language),
            ]
            return views.page("adverse-event", title: correcting == nil ? "ae_title" : "ae_correct_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }

    func statusPage(_ request: Request, _ context: Context, error: RegistryError?, typed: [String: String]) async throws -> Response {
        let id = try patientID(context)
        return try await page(request, context, roles: [.coordinator]) { tx, session in
            let patient = try await tx.patients.patient(id: id)
            let language = context.language
            let (byField, summary) = fieldErrors(error, language, field: { $0 == "cause" ? "reason" : $0 })
            let kind = typed["kind"] ?? request.uri.queryParameters.get("kind") ?? ""
            let values: [String: Any] = [
                "patient": ["id": patient.id.rawValue, "pseudonym": Self.short(patient.pseudonym), "status": word("pstatus", patient.status, language)] as [String: Any],
                "kinds": StatusChangeKind.allCases.map { k in ["value": k.rawValue, "label": word("kind", k, language), "checked": kind == k.rawValue] as [String: Any] },
                "typed": typed, "today": database.today().description,
                "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
            ]
            return views.page("status", title: "status_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }

    func visitCorrectionPage(_ request: Request, _ context: Context, error: RegistryError?, typed: [String: String]) async throws -> Response {
        let id = try visitID(context)
        return try await page(request, context, roles: [.coordinator]) { tx, session in
            let visit = try await tx.visits.visit(id: id)
            let patient = try await tx.patients.patient(id: visit.patientID)
            let language = context.language
            let (byField, summary) = fieldErrors(error, language)
            let contact = typed["contact"] ?? visit.contactType.rawValue
            let vital = typed["vital"] ?? visit.vitalStatus.rawValue
            let values: [String: Any] = [
                "visit": ["id": visit.id.rawValue, "on": visit.visitedOn.description] as [String: Any],
                "patient": ["id": patient.id.rawValue, "pseudonym": Self.short(patient.pseudonym)] as [String: Any],
                "on": typed["on"] ?? visit.visitedOn.description, "note": typed["note"] ?? visit.note ?? "", "reason": typed["reason"] ?? "",
                "contacts": ContactType.allCases.map { c in ["value": c.rawValue, "label": word("contact", c, language), "checked": c.rawValue == contact] as [String: Any] },
                "vitals": VitalStatus.allCases.map { v in ["value": v.rawValue, "label": word("vital", v, language), "checked": v.rawValue == vital] as [String: Any] },
                "today": database.today().description, "signer": session.user.username,
                "consequences": consequences(error, language), "has_consequences": !consequences(error, language).isEmpty,
                "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
            ]
            return views.page("visit-correct", title: "correct_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }

    /// The records a coordinator may void, by the name in their page's path.
    enum VoidKind: String { case visit = "visits", adverseEvent = "adverse-events", dose = "doses", statusChange = "status-changes" }

    func voidTarget(_ context: Context) throws -> (VoidKind, Int) {
        guard let kind = context.parameters.get("kind").flatMap(VoidKind.init(rawValue:)), let text = context.parameters.get("id"),
              let id = Int(text), id > 0 else { throw HTTPError(.notFound) }
        return (kind, id)
    }

    func voidPage(_ request: Request, _ context: Context, error: RegistryError?, typed: [String: String]) async throws -> Response {
        let (kind, id) = try voidTarget(context)
        return try await page(request, context, roles: [.coordinator]) { tx, session in
            let language = context.language
            let c = views.catalogue
            let patientID: PatientID, what: String, explain: String
            switch kind {
            case .visit:
                let v = try await tx.visits.visit(id: VisitID(rawValue: id))
                (patientID, what, explain) = (v.patientID, "\(c.text("timeline_visit", language)) \(v.visitedOn) · \(word("contact", v.contactType, language))", c.text("void_explain", language))
            case .adverseEvent:
                let e = try await tx.adverseEvents.adverseEvent(id: AdverseEventID(rawValue: id))
                (patientID, what, explain) = (e.patientID, "\(c.text("timeline_event", language)) \(e.onsetOn) · \(e.term) · \(c.text("ae_grade_n", language, String(e.grade)))", c.text("void_explain_event", language))
            case .dose:
                let a = try await tx.administrations.administration(id: AdministrationID(rawValue: id))
                (patientID, what, explain) = (a.patientID, "\(c.text("timeline_dose", language)) \(a.administeredOn) · \(a.productCode) · \(a.lot)", c.text("void_explain_dose", language))
            case .statusChange:
                let s = try await tx.statusChanges.change(id: StatusChangeID(rawValue: id))
                (patientID, what, explain) = (s.patientID, "\(c.text("timeline_status", language)) \(s.effectiveOn) · \(word("kind", s.kind, language))", c.text("void_explain_status", language))
            }
            let patient = try await tx.patients.patient(id: patientID)
            let (byField, summary) = fieldErrors(error, language)
            let values: [String: Any] = [
                "what": what, "explain": explain,
                "patient": ["id": patient.id.rawValue, "pseudonym": Self.short(patient.pseudonym)] as [String: Any],
                "reason": typed["reason"] ?? "", "signer": session.user.username,
                "consequences": consequences(error, language), "has_consequences": !consequences(error, language).isEmpty,
                "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
            ]
            return views.page("void", title: "void_title_any", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }

    func patientCorrectionPage(_ request: Request, _ context: Context, error: RegistryError?, typed: [String: String]) async throws -> Response {
        let id = try patientID(context)
        return try await page(request, context, roles: [.coordinator]) { tx, session in
            let patient = try await tx.patients.patient(id: id)
            let language = context.language
            let (byField, summary) = fieldErrors(error, language)
            let sex = typed["sex"] ?? patient.sex.rawValue
            let values: [String: Any] = [
                "patient": ["id": patient.id.rawValue, "pseudonym": Self.short(patient.pseudonym)] as [String: Any],
                "birth_year": typed["birth-year"] ?? String(patient.birthYear), "consent_on": typed["consent-on"] ?? patient.consentOn.description,
                "consent_version": typed["consent-version"] ?? patient.consentVersion,
                "sexes": Sex.allCases.map { s in ["value": s.rawValue, "label": word("sex", s, language), "checked": s.rawValue == sex] as [String: Any] },
                "reason": typed["reason"] ?? "", "signer": session.user.username, "today": database.today().description,
                "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
            ]
            return views.page("patient-correct", title: "patient_correct_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }

    func doseCorrectionPage(_ request: Request, _ context: Context, error: RegistryError?, typed: [String: String]) async throws -> Response {
        guard let text = context.parameters.get("id"), let raw = Int(text) else { throw HTTPError(.notFound) }
        return try await page(request, context, roles: [.coordinator]) { tx, session in
            let dose = try await tx.administrations.administration(id: AdministrationID(rawValue: raw))
            let patient = try await tx.patients.patient(id: dose.patientID)
            let (byField, summary) = fieldErrors(error, context.language)
            let values: [String: Any] = [
                "dose": ["id": dose.id.rawValue, "on": dose.administeredOn.description, "product": dose.productCode] as [String: Any],
                "patient": ["id": patient.id.rawValue, "pseudonym": Self.short(patient.pseudonym)] as [String: Any],
                "on": typed["on"] ?? dose.administeredOn.description, "lot": typed["lot"] ?? dose.lot, "amount": typed["dose"] ?? dose.dose,
                "reason": typed["reason"] ?? "", "signer": session.user.username, "today": database.today().description,
                "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
            ]
            return views.page("dose-correct", title: "dose_correct_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }
}
