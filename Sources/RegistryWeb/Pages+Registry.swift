import Foundation
import Hummingbird
import RegistryDomain
import RegistryStorage

extension RegistryWeb {
    /// The administrator's registry page: institutions with their designation, products, treatment
    /// plans with the committee's decision, and API tokens; forms to add an institution, a product
    /// and a plan, to record a plan's decision, and to issue and revoke a token (its secret shown
    /// once). Reference data is written under the same row-level security as the API's admin
    /// routes; tokens, like accounts, are the owner's.
    func addRegistryRoutes(_ router: Router<Context>) {
        router.get("/app/admin/registry") { request, context in
            try await registryPage(request, context, error: nil, typed: [:], notice: nil, secret: nil)
        }

        router.post("/app/admin/institutions") { request, context in
            try await submit(request, context, roles: [.admin], refused: { error, form in
                try await registryPage(request, context, error: error, typed: form.typed, notice: nil, secret: nil)
            }) { form, tx, _ in
                let new = try NewInstitution(code: form["code"] ?? "", name: form["name"] ?? "", designationNumber: form["designation"] ?? "",
                                             designatedOn: form["designated-on"] ?? "", today: database.today())
                let institution = try await tx.institutions.add(new)
                return Views.redirect("/app/admin/registry?added=\(institution.code)")
            }
        }

        router.post("/app/admin/products") { request, context in
            try await submit(request, context, roles: [.admin], refused: { error, form in
                try await registryPage(request, context, error: error, typed: form.typed, notice: nil, secret: nil)
            }) { form, tx, _ in
                let product = try await tx.products.add(try NewProduct(code: form["product-code"] ?? "", name: form["product-name"] ?? "",
                                                                       manufacturer: form["manufacturer"] ?? "", modality: form["modality"] ?? ""))
                return Views.redirect("/app/admin/registry?added=\(product.code)")
            }
        }

        router.post("/app/admin/plans") { request, context in
            try await submit(request, context, roles: [.admin], refused: { error, form in
                try await registryPage(request, context, error: error, typed: form.typed, notice: nil, secret: nil)
            }) { form, tx, _ in
                let new = try NewPlan(institution: form["institution"] ?? "", product: form["product"] ?? "", indication: form["indication"] ?? "",
                                      risk: form["risk"] ?? "")
                let plan = try await tx.plans.add(institutionCode: new.institutionCode, productCode: new.productCode, indication: new.indication,
                                                  risk: new.riskClass)
                return Views.redirect("/app/admin/registry?added=plan-\(plan.id.rawValue)")
            }
        }

        router.post("/app/admin/plans/:id/decision") { request, context in
            guard let text = context.parameters.get("id"), let raw = Int(text) else { throw HTTPError(.notFound) }
            return try await submit(request, context, roles: [.admin], refused: { error, form in
                try await registryPage(request, context, error: error, typed: form.typed, notice: nil, secret: nil)
            }) { form, tx, _ in
                let record = try PlanDecisionRecord(decision: form["decision"] ?? "", on: form["on"] ?? "", reference: form["reference"] ?? "",
                                                    today: database.today())
                let plan = try await tx.plans.decide(id: PlanID(rawValue: raw), record)
                return Views.redirect("/app/admin/registry?added=plan-\(plan.id.rawValue)")
            }
        }

        router.post("/app/admin/tokens") { request, context in
            let (form, session) = try await signedInForm(request)
            guard session.user.role == .admin else { throw RegistryError(.forbidden, "this page is for admin accounts") }
            do {
                let issued = try await database.transaction(actor: session.user.actor) { tx in
                    try await tx.tokens.issue(try NewAccessToken(role: form["role"] ?? "", institution: form["token-institution"], label: form["label"]))
                }
                return try await registryPage(request, context, error: nil, typed: [:],
                                              notice: views.catalogue.text("registry_token_issued", context.language), secret: issued.secret)
            } catch let error as RegistryError where error.code == .invalid || error.code == .notFound {
                return try await registryPage(request, context, error: error, typed: form.typed, notice: nil, secret: nil)
            }
        }

        router.post("/app/admin/tokens/:id/revoke") { request, context in
            guard let text = context.parameters.get("id"), let id = Int(text) else { throw HTTPError(.notFound) }
            let (form, session) = try await signedInForm(request)
            guard session.user.role == .admin else { throw RegistryError(.forbidden, "this page is for admin accounts") }
            do {
                _ = try await database.transaction(actor: session.user.actor) { tx in
                    try await tx.tokens.revoke(id: id, reason: try Rules.reason(form["reason"]))
                }
            } catch let error as RegistryError where error.code == .invalid || error.code == .notFound || error.code == .conflict {
                return try await registryPage(request, context, error: error, typed: form.typed, notice: nil, secret: nil)
            }
            return Views.redirect("/app/admin/registry?revoked=1")
        }
    }

    func registryPage(_ request: Request, _ context: Context, error: RegistryError?, typed: [String: String], notice: String?,
                      secret: String?) async throws -> Response {
        let session = try await signedIn(request)
        if session.user.mustChangePassword { return Views.redirect("/app/password") }
        guard session.user.role == .admin else { throw RegistryError(.forbidden, "this page is for admin accounts") }
        let tokens = try await database.transaction(actor: session.user.actor) { tx in try await tx.tokens.all() }
        return try await page(request, context, roles: [.admin]) { tx, session in
            let language = context.language
            let c = views.catalogue
            let institutions = try await tx.institutions.all()
            let products = try await tx.products.all()
            let plans = try await tx.plans.list()
            let (byField, summary) = fieldErrors(error, language)
            var values: [String: Any] = [
                "institutions": institutions.map { i in
                    ["code": i.code, "name": i.name, "designation": i.designationNumber, "designated_on": i.designatedOn.description,
                     "status": i.status.rawValue] as [String: Any]
                },
                "products": products.map { p in
                    ["code": p.code, "name": p.name, "manufacturer": p.manufacturer, "modality": p.modality.rawValue,
                     "years": p.followUpYears] as [String: Any]
                },
                "plans": plans.map { p in
                    ["id": p.id.rawValue, "institution": p.institutionCode, "product": p.productCode, "indication": p.indication,
                     "risk": p.riskClass.rawValue, "decision": p.decision.rawValue, "pending": p.decision == .pending,
                     "decided": p.decidedOn.map { "\($0) · \(p.committeeReference ?? "")" } ?? "",
                     "protocol": "\(p.protocolCode) v\(p.protocolVersion)"] as [String: Any]
                },
                "tokens": tokens.map { t in
                    ["id": t.id, "prefix": t.prefix, "role": t.role.rawValue, "institution": t.institutionCode ?? "—", "label": t.label ?? "",
                     "created": t.createdAt, "revoked": t.revokedAt as Any, "active": t.revokedAt == nil] as [String: Any]
                },
                "modalities": Modality.allCases.map { ["value": $0.rawValue, "selected": typed["modality"] == $0.rawValue] as [String: Any] },
                "risks": RiskClass.allCases.map { ["value": $0.rawValue, "selected": typed["risk"] == $0.rawValue] as [String: Any] },
                "token_roles": TokenRole.allCases.map { ["value": $0.rawValue, "selected": typed["role"] == $0.rawValue] as [String: Any] },
                "decisions": PlanDecision.allCases.filter { $0 != .pending }.map { ["value": $0.rawValue] as [String: Any] },
                "typed": typed, "today": database.today().description,
                "errors": byField, "summary": summary, "has_errors": !summary.isEmpty, "secret": secret as Any,
            ]
            let q = Form(request.uri.query ?? "")
            if let added = q["added"] { values["notice"] = c.text("registry_saved", language, added) }
            if q["revoked"] != nil { values["notice"] = c.text("registry_token_revoked", language) }
            if let notice { values["notice"] = notice }
            return views.page("registry", title: "registry_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }
}
