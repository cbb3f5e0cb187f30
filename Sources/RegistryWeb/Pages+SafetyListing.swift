import Foundation
import Hummingbird
import RegistryDomain
import RegistryReports
import RegistryStorage

extension RegistryWeb {
    /// The safety line listing for regulators and administrators: its period, product and purpose
    /// as a form, downloaded as CSV or JSON. Built and recorded (with the purpose, as the person) by
    /// the same `SafetyListing.build` as the API and the command line. Case-level by design: the
    /// safety agency's pharmacovigilance; no suppression applies.
    func addSafetyListingRoutes(_ router: Router<Context>) {
        router.get("/app/safety-listing") { request, context in
            try await safetyListingPage(request, context, error: nil)
        }

        router.get("/app/safety-listing/download") { request, context in
            let q = Form(request.uri.query ?? "")
            let (session, role) = try await reportSession(request, refusal: "safety listings are for regulator and admin accounts")
            let listingRequest: SafetyListingRequest
            do {
                listingRequest = try SafetyListingRequest(purpose: q["purpose"], product: q["product"], from: q["from"], to: q["to"], today: database.today())
            } catch let error as RegistryError {
                return try await safetyListingPage(request, context, error: error)
            }
            let listing = try await SafetyListing.build(database: database, request: listingRequest, actor: session.user.actor, role: role)
            let name = "safety-listing-\(listingRequest.from)-\(listingRequest.to)"
            return q["format"] == "json" ? Self.download(listing.json(), type: "application/json", name: "\(name).json")
                                         : Self.download(listing.csv(), type: "text/csv; charset=utf-8", name: "\(name).csv")
        }
    }

    func safetyListingPage(_ request: Request, _ context: Context, error: RegistryError?) async throws -> Response {
        try await page(request, context, roles: [.regulator, .admin]) { _, session in
            let q = Form(request.uri.query ?? "").typed
            let (byField, summary) = fieldErrors(error, context.language)
            let today = database.today()
            let values: [String: Any] = [
                "purpose": q["purpose"] ?? "", "product": q["product"] ?? "",
                "from": q["from"] ?? today.adding(years: -1).description, "to": q["to"] ?? today.description, "today": today.description,
                "errors": byField, "summary": summary, "has_errors": !summary.isEmpty,
            ]
            return views.page("safety-listing", title: "listing_title", values, request: request, context: context, session: session,
                              status: error == nil ? .ok : .unprocessableContent)
        }
    }
}
