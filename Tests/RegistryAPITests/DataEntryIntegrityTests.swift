import Foundation
import HTTPTypes
import Hummingbird
@testable import RegistryAPI
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// The observations of issue #14 (data-entry integrity), each as a coordinator met it, over the
/// HTTP API on real PostgreSQL. Every refusal is checked to write nothing.
@Suite("Data-entry integrity")
struct DataEntryIntegrityTests {
    @Test("#8: a serious adverse event without any ICH E2A criterion is refused, naming /criteria and the allowed values; nothing is written")
    func seriousNeedsCriterion() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let uri = "/patients/\(h.patientA)/adverse-events"
            let before = try await h.snapshot()
            let refused = try await api.call(.post, uri, token: a,
                                             json: #"{"onset":"2026-11-01","aware":"2026-11-02","term":"Pneumonia","category":"infection","grade":3,"serious":true}"#)
            #expect(refused.status == 422 && refused.pointers == ["/criteria"], "\(refused.text)")
            #expect(refused.text.contains("hospitalization") && refused.text.contains("important-medical-event"))
            #expect(try await h.snapshot() == before, "a refused event wrote something")
            let accepted = try await api.call(.post, uri, token: a,
                                              json: #"{"onset":"2026-11-01","aware":"2026-11-02","term":"Pneumonia","category":"infection","grade":3,"serious":true,"criteria":["hospitalization"]}"#)
            #expect(accepted.status == 201, "\(accepted.text)")
            // Grade 4 and 5 carry their criterion (life-threatening, death) by definition.
            let graded = try await api.call(.post, uri, token: a,
                                            json: #"{"onset":"2026-11-03","aware":"2026-11-03","term":"Sepsis","category":"infection","grade":4,"serious":true}"#)
            #expect(graded.status == 201, "\(graded.text)")
        }
    }
}
