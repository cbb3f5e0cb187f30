import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("Typed ids")
struct TypedIDTests {
    @Test("a typed id binds and reads back as the bigint it wraps: alone, optional and in arrays")
    func roundTrip() async throws {
        try await TestDatabase.withDatabase { database in
            let id: PatientID = 9_007_199_254_740_993  // above 2^53: no floating point on the way
            let none: FollowUpID? = nil
            let ids: [VisitID] = [3, 1, 2]
            let (back, missing, sorted, type) = try await database.read { tx in
                try await tx.query("SELECT \(id), \(none), ARRAY(SELECT unnest(\(ids)) ORDER BY 1), pg_typeof(\(id))::text", logger: TestDatabase.logger)
                    .decode((PatientID, FollowUpID?, [VisitID], String).self).one("the row")
            }
            #expect(back == id && missing == nil && sorted == [1, 2, 3] && type == "bigint")
        }
    }

    @Test("a record's ids are plain JSON numbers, as before typed ids")
    func json() throws {
        let visit = Visit(id: 12, patientID: 7, followUpID: 40, institutionCode: "ARM-001", visitedOn: LocalDate("2025-07-10")!,
                          contactType: .phone, vitalStatus: .alive, timing: .inWindow, measures: [], note: nil)
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(visit)) as? [String: Any])
        #expect(object["id"] as? Int == 12 && object["patientID"] as? Int == 7 && object["followUpID"] as? Int == 40)
        #expect(try JSONDecoder().decode(Visit.self, from: JSONEncoder().encode(visit)) == visit)
    }
}
