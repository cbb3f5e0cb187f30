import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

extension RegistryWeb {
    /// The nightly job's proposals that a patient is lost to follow-up, for the coordinator to
    /// decide: confirming records the loss (later follow-ups stop, as for a loss recorded by hand),
    /// rejecting keeps the patient (the job proposes again only after a further missed follow-up).
    /// The job never changes a patient's status itself.
    func addLostProposalRoutes(_ router: Router<Context>) {
        router.get("/app/lost-proposals") { request, context in
            let q = request.uri.queryParameters
            let after = q.get("after").flatMap(Int.init).flatMap { id in q.get("on").flatMap(LocalDate.init).map { (on: $0, id: id) } }
            return try await page(request, context, roles: [.coordinator]) { tx, session in
                let code = session.user.institutionCode ?? ""
                let list = try await tx.lostProposals.list(institutionCode: code, decision: .pending, after: after, limit: configuration.pageSize + 1)
                let shown = list.prefix(configuration.pageSize)
                var values: [String: Any] = [
                    "rows": shown.map { p in
                        ["id": p.id.rawValue, "patient": p.patientID.rawValue, "proposed_on": p.proposedOn.description,
                         "missed": views.catalogue.text("lost_missed", context.language, String(p.missedCount))] as [String: Any]
                    },
                    "empty": shown.isEmpty, "count": Self.grouped(try await tx.lostProposals.pendingCount(institutionCode: code)),
                ]
                if list.count > configuration.pageSize, let last = shown.last {
                    values["next_href"] = "/app/lost-proposals?on=\(last.proposedOn)&after=\(last.id.rawValue)"
                }
                if q.get("decided") != nil { values["notice"] = views.catalogue.text("lost_decided", context.language) }
                return views.page("lost-proposals", title: "lost_title", values, request: request, context: context, session: session)
            }
        }

        router.get("/app/lost-proposals/:id") { request, context in
            try await lostProposalPage(request, context, action: nil, error: nil, typed: [:])
        }

        for action in ["confirm", "reject"] {
            router.post("/app/lost-proposals/:id/\(action)") { request, context in
                let id = try lostProposalID(context)
                return try await submit(request, context, roles: [.coordinator], refused: { error, form in
                    try await lostProposalPage(request, context, action: action, error: error, typed: form.typed)
                }) { form, tx, _ in
                    var checks = FieldChecks()
                    let on = action == "confirm" ? checks.check { () throws(RegistryError) in
                        let on = try Rules.date(form["on"] ?? "", field: "on")
                        try Rules.eventDate(on, field: "on", today: database.today())
                        return on
                    } : nil
                    let reason = checks.check { () throws(RegistryError) in try Rules.reason(form["reason"]) }
                    try checks.finish()
                    if action == "confirm" {
                        _ = try await tx.lostProposals.confirm(id: id, on: on!, reason: reason!)
                    } else {
                        _ = try await tx.lostProposals.reject(id: id, reason: reason!)
                    }
                    return Views.redirect("/app/lost-proposals?decided=1")
                }
            }
        }
    }

    func lostProposalID(_ context: Context) throws -> LostProposalID {
        guard let text = context.parameters.get("id"), let id = Int(text), id > 0 else { throw HTTPError(.notFound) }
        return LostProposalID(rawValue: id)
    }

    /// One proposal: the patient, the missed follow-ups behind it, and the two decisions, each a
    /// form of its own (a refusal shows its errors on the form that was sent).
    func lostProposalPage(_ request: Request, _ context: Context, action: String?, error: RegistryError?, typed: [String: String]) async throws -> Response {
        let id = try lostProposalID(context)
        return try await page(request, context, roles: [.coordinator]) { tx, session in
            let proposal = try await tx.lostProposals.proposal(id: id)
            let patient = try await tx.patients.patient(id: proposal.patientID)
            let missed = try await tx.followUps.of(patientID: proposal.patientID).filter { $0.status == .missed }
            let language = context.language
            // The two forms' fields have ids of their own: the rejection's reason is reject_reason.
            let (byField, summary) = fieldErrors(error, language, field: { action == "reject" && $0 == "reason" ? "reject_reason" : $0 })
            let values: [String: Any] = [
                "proposal": ["id": proposal.id.rawValue, "proposed_on": proposal.proposedOn.description,
                             "missed": views.catalogue.text("lost_missed", language, String(proposal.missedCount)),
                             "pending": proposal.decision == .pending,
                             "decision": word("decision", proposal.decision, language), "decided_on": proposal.decidedOn?.description ?? "",
                             "reason": proposal.reason ?? ""] as [String: Any],
                "patient": ["id": patient.id.rawValue, "pseudonym": Self.short(patient.pseudonym), "status": word("pstatus", patient.status, language)] as [String: Any],
                "missed_rows": missed.map { f in ["label": f.label, "window": "\(f.windowStart) – \(f.windowEnd)", "state": stateText(f, language)] as [String: Any] },
                "has_missed": !missed.isEmpty, "today": database.today().description,
                "confirm": action == "confirm" ? ["typed": typed, "errors": byField, "summary": summary, "has_errors": !summary.isEmpty] as [String: Any]
                                               : ["typed": ["on": database.today().description]] as [String: Any],
                "reject": action == "reject" ? ["typed": ["reject_reason": typed["reason"] ?? ""], "errors": byField, "summary": summary, "has_errors": !summary.isEmpty] as [String: Any]
                                             : [:] as [String: Any],
            ]
            return views.page("lost-proposal", title: "lost_decide_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }
}
