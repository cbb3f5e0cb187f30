import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

extension RegistryWeb {
    /// The coordinator's worklist: overdue follow-ups (oldest window first, with days overdue and
    /// the nightly job's escalation) and those due soon, counted, filtered by kind and horizon; each
    /// row goes straight to logging the visit or closing the follow-up as not done.
    func addWorklistRoutes(_ router: Router<Context>) {
        router.get("/app/worklist") { request, context in
            let q = request.uri.queryParameters
            let kind = q.get("kind").flatMap(WorklistEntry.Kind.init(rawValue:))
            let days = q.get("days").flatMap(Int.init).map { min(max($0, 1), 365) } ?? DueSoon.horizonDays
            let afterID = q.get("after").flatMap(Int.init)
            return try await page(request, context, roles: [.coordinator]) { tx, session in
                let code = session.user.institutionCode ?? ""
                let asOf = database.today()
                let counts = try await tx.followUps.worklistCounts(institutionCode: code, asOf: asOf, days: days)
                let proposals = try await tx.lostProposals.pendingCount(institutionCode: code)
                // Only due soon: start past every overdue entry. Paging continues after an entry's position.
                var after: WorklistPosition? = kind == .dueSoon ? WorklistPosition(section: 0, on: LocalDate(year: 9999, month: 12, day: 31)!, id: FollowUpID(rawValue: Int.max)) : nil
                if let afterID, let section = q.get("section").flatMap(Int.init), let on = q.get("on").flatMap(LocalDate.init) {
                    after = WorklistPosition(section: section, on: on, id: FollowUpID(rawValue: afterID))
                }
                var entries = try await tx.followUps.worklist(institutionCode: code, asOf: asOf, days: days, after: after,
                                                              limit: configuration.pageSize + 1)
                if kind == .overdue { entries = entries.filter { $0.kind == .overdue } }
                let more = entries.count > configuration.pageSize
                let shown = entries.prefix(configuration.pageSize)
                let language = context.language
                let c = views.catalogue
                let rows: [[String: RowTemplate.Value]] = shown.map { e in
                    var row: [String: RowTemplate.Value] = [
                        "id": .text(String(e.followUpID.rawValue)), "patient": .text(String(e.patientID.rawValue)), "label": .text(e.label),
                        "overdue": .flag(e.kind == .overdue), "due": .text(e.dueOn.description),
                        "window": .text("\(e.windowStart) – \(e.windowEnd)"), "transferred_in": .flag(e.transferredIn),
                    ]
                    if e.daysOverdue > 0 { row["days_overdue"] = .text(c.text("worklist_days_overdue", language, String(e.daysOverdue))) }
                    if e.escalationLevel > 0 { row["escalation"] = .text(c.text("worklist_escalation", language, String(e.escalationLevel))) }
                    return row
                }
                var values: [String: Any] = [
                    "rows_html": views.rows("worklist-row", rows, language: language), "empty": rows.isEmpty, "as_of": asOf.description, "days": days,
                    "count_overdue": Self.grouped(counts.overdue), "count_due_soon": Self.grouped(counts.dueSoon),
                    "count_all": Self.grouped(counts.overdue + counts.dueSoon),
                    "kind_all": kind == nil, "kind_overdue": kind == .overdue, "kind_due_soon": kind == .dueSoon,
                    "horizon": c.text("worklist_horizon", language, String(days)),
                ]
                if proposals > 0 { values["lost_pending"] = c.text("worklist_lost_pending", language, Self.grouped(proposals)) }
                if more, let last = shown.last {
                    let p = last.position
                    values["next_href"] = "/app/worklist?days=\(days)" + (kind.map { "&kind=\($0.rawValue)" } ?? "")
                        + "&section=\(p.section)&on=\(p.on)&after=\(p.id.rawValue)"
                }
                if q.get("logged") != nil { values["notice"] = c.text("worklist_logged", language) }
                if q.get("closed") != nil { values["notice"] = c.text("worklist_closed", language) }
                return views.page("worklist", title: "worklist_title", values, request: request, context: context, session: session)
            }
        }
    }

    /// A whole number with thousands grouped (1,234), as both languages write it.
    static func grouped(_ n: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        return formatter.string(from: NSNumber(value: n)) ?? String(n)
    }
}
