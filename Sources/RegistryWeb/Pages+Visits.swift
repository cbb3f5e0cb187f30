import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

extension RegistryWeb {
    /// Logging a follow-up's visit (the measures offered from the catalogue with their units,
    /// ranges and coded answers) and closing a follow-up as not done.
    func addVisitRoutes(_ router: Router<Context>) {
        router.get("/app/follow-ups/:id/visit") { request, context in
            try await visitPage(request, context, error: nil, typed: [:])
        }

        router.post("/app/follow-ups/:id/visit") { request, context in
            let id = try followUpID(context)
            return try await submit(request, context, roles: [.coordinator], refused: { error, form in
                try await visitPage(request, context, error: error, typed: form.typed)
            }) { form, tx, _ in
                let catalogue = try await tx.measures.catalogue()
                let given = catalogue.definitions.compactMap { d in form["m.\(d.key)"].map { (d.key, "\(d.key)=\($0)") } }
                let visit = try NewVisit(on: form["on"] ?? "", contact: form["contact"] ?? "", vital: form["vital"] ?? "",
                                         measures: given.map(\.1), catalogue: catalogue, note: form["note"],
                                         recordDeath: form.ticked("record-death"), today: database.today(),
                                         measureField: { i in "m.\(given[i].0)" })
                let logged = try await tx.visits.log(followUpID: id, patientID: nil, visit)
                return Views.redirect(form["from"] == "patient" ? "/app/patients/\(logged.patientID.rawValue)?logged=1" : "/app/worklist?logged=1")
            }
        }

        router.get("/app/follow-ups/:id/not-done") { request, context in
            try await notDonePage(request, context, error: nil, typed: [:])
        }

        router.post("/app/follow-ups/:id/not-done") { request, context in
            let id = try followUpID(context)
            return try await submit(request, context, roles: [.coordinator], refused: { error, form in
                try await notDonePage(request, context, error: error, typed: form.typed)
            }) { form, tx, _ in
                let closure = try NotDoneClosure(reason: form["reason"] ?? "", note: form["note"])
                _ = try await tx.followUps.closeNotDone(id: id, reason: closure.reason, note: closure.note)
                return Views.redirect("/app/worklist?closed=1")
            }
        }
    }

    func followUpID(_ context: Context) throws -> FollowUpID {
        guard let text = context.parameters.get("id"), let id = Int(text), id > 0 else { throw HTTPError(.notFound) }
        return FollowUpID(rawValue: id)
    }

    /// A refusal's field as the visit form names it: the domain's names, measures as `m.KEY`.
    static func visitField(_ field: String?) -> String? {
        guard let field else { return nil }
        switch field {
        case "on", "contact", "vital", "note", "reason": return field
        case "record-death", "death": return "vital"
        case let f where f.hasPrefix("m."): return f
        default: return nil
        }
    }

    func visitPage(_ request: Request, _ context: Context, error: RegistryError?, typed: [String: String]) async throws -> Response {
        let id = try followUpID(context)
        return try await page(request, context, roles: [.coordinator]) { tx, session in
            let f = try await tx.followUps.followUp(id: id)
            let patient = try await tx.patients.patient(id: f.patientID)
            let catalogue = try await tx.measures.catalogue()
            let language = context.language
            let (byField, summary) = fieldErrors(error, language, field: Self.visitField)
            // A new form offers the time point's contact and "alive"; a refused one shows exactly what was sent.
            let contact = error == nil ? f.contactType.rawValue : typed["contact"]
            let vital = error == nil ? VitalStatus.alive.rawValue : typed["vital"]
            let measures: [[String: Any]] = catalogue.definitions.map { d in
                let name = "m.\(d.key)"
                var m: [String: Any] = [
                    "name": name, "key": d.key, "label": language == .ko ? d.displayKo : d.display,
                    "code": "\(d.codeSystem) \(d.code)", "value": typed[name] ?? "", "error": byField[name] as Any,
                    "coded": d.isCoded, "unit": d.unit as Any,
                    "range": d.isCoded ? "" : "\(MeasureValue.formatted(d.minimum))–\(MeasureValue.formatted(d.maximum))",
                    "step": d.integer ? "1" : "any", "min": MeasureValue.formatted(d.minimum), "max": MeasureValue.formatted(d.maximum),
                ]
                m["answers"] = d.answers.map { a in
                    ["code": a.code, "label": "\(a.code) – \(language == .ko ? a.displayKo : a.display)", "selected": typed[name] == a.code] as [String: Any]
                }
                return m
            }
            let values: [String: Any] = [
                "follow_up": ["id": f.id.rawValue, "label": f.label, "due": f.due.description, "window": "\(f.windowStart) – \(f.windowEnd)",
                              "contact": word("contact", f.contactType, language), "state": stateText(f, language)] as [String: Any],
                "patient": ["id": patient.id.rawValue, "pseudonym": Self.short(patient.pseudonym)] as [String: Any],
                "on": typed["on"] ?? database.today().description, "today": database.today().description,
                "contacts": ContactType.allCases.map { c in ["value": c.rawValue, "label": word("contact", c, language), "checked": c.rawValue == contact] as [String: Any] },
                "vitals": VitalStatus.allCases.map { v in ["value": v.rawValue, "label": word("vital", v, language), "checked": v.rawValue == vital] as [String: Any] },
                "record_death": typed["record-death"] != nil, "note": typed["note"] ?? "", "from": typed["from"] ?? request.uri.queryParameters.get("from") ?? "",
                "measures": measures, "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
            ]
            return views.page("visit", title: "visit_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }

    func notDonePage(_ request: Request, _ context: Context, error: RegistryError?, typed: [String: String]) async throws -> Response {
        let id = try followUpID(context)
        return try await page(request, context, roles: [.coordinator]) { tx, session in
            let f = try await tx.followUps.followUp(id: id)
            let patient = try await tx.patients.patient(id: f.patientID)
            let language = context.language
            let (byField, summary) = fieldErrors(error, language, field: Self.visitField)
            let values: [String: Any] = [
                "follow_up": ["id": f.id.rawValue, "label": f.label, "window": "\(f.windowStart) – \(f.windowEnd)", "state": stateText(f, language)] as [String: Any],
                "patient": ["id": patient.id.rawValue, "pseudonym": Self.short(patient.pseudonym)] as [String: Any],
                "reasons": NotDoneReason.allCases.map { r in ["value": r.rawValue, "label": word("notdone", r, language), "selected": typed["reason"] == r.rawValue] as [String: Any] },
                "note": typed["note"] ?? "", "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
            ]
            return views.page("not-done", title: "notdone_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }
}
