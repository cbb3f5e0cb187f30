import PostgresNIO
import RegistryDomain

/// The one way a patient is read from a row: every query that returns a patient selects
/// `PatientRow.columns` (from `patient p JOIN institution i`) as consecutive columns.
enum PatientRow {
    /// The columns, in the order `decode` reads them.
    static let columns = "p.id, p.pseudonym, i.code, p.birth_year, p.sex, p.consent_on, p.consent_version, p.status, p.voided_on, p.void_reason"
    /// How many columns that is.
    static let count = 10

    /// The patient in columns `start ..< start + count` of `row`.
    static func decode(_ row: PostgresRandomAccessRow, from start: Int = 0) throws -> Patient {
        Patient(id: try row[start].decode(PatientID.self), pseudonym: try row[start + 1].decode(String.self),
                institutionCode: try row[start + 2].decode(String.self), birthYear: Int(try row[start + 3].decode(Int16.self)),
                sex: try row[start + 4].decode(Sex.self), consentOn: try row[start + 5].decode(LocalDate.self),
                consentVersion: try row[start + 6].decode(String.self), status: try row[start + 7].decode(PatientStatus.self),
                void: VoidMark.stored(try row[start + 8].decode(LocalDate?.self), try row[start + 9].decode(String?.self)))
    }
}

/// A patient locked for new data, with what decides whether it may be recorded (the domain's
/// `PatientForData`) and the institution that holds them.
struct LockedPatient: Sendable {
    var forData: PatientForData
    var institutionID: Int
    var patient: Patient { forData.patient }
}
