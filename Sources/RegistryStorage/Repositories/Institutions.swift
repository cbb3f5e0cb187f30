import PostgresNIO
import RegistryDomain

/// Designated institutions.
public struct Institutions: Repository {
    let tx: Transaction

    /// Designates an institution.
    public func add(_ new: NewInstitution) async throws -> Institution {
        let rows = try await c.query("""
            INSERT INTO institution (code, name, designation_number, designated_on)
            VALUES (\(new.code), \(new.name), \(new.designationNumber), \(new.designatedOn))
            RETURNING \(unescaped: Self.columns)
            """, logger: logger)
        return try await Self.decode(rows).one("the new institution")
    }

    /// Every institution, by code.
    public func all() async throws -> [Institution] {
        try await Self.decode(c.query("SELECT \(unescaped: Self.columns) FROM institution ORDER BY code", logger: logger))
    }

    /// Suspends, revokes or reinstates an institution.
    public func setStatus(code: String, status: InstitutionStatus, reason: String) async throws -> Institution {
        try await tx.because(reason)
        let rows = try await c.query("""
            UPDATE institution SET status = \(status) WHERE code = \(code)
            RETURNING \(unescaped: Self.columns)
            """, logger: logger)
        guard let institution = try await Self.decode(rows).first else { throw Self.unknown(code) }
        return institution
    }

    /// An institution's id and status by code, locked against status changes with `lock`
    /// (`FOR SHARE`), or the registry's refusal naming `field`.
    func idAndStatus(code: String, field: String = "institution", lock: Bool = false) async throws -> (id: Int, status: InstitutionStatus) {
        let rows = try await c.query("""
            SELECT id, status FROM institution WHERE code = \(code) \(unescaped: lock ? "FOR SHARE" : "")
            """, logger: logger)
        guard let (id, status) = try await rows.decode((Int, InstitutionStatus).self).firstElement() else { throw Self.unknown(code, field: field) }
        return (id, status)
    }

    /// An institution's id by code, or the registry's refusal naming `field`.
    public func id(code: String, field: String = "institution") async throws -> Int {
        try await idAndStatus(code: code, field: field).id
    }

    static let columns = "id, code, name, designation_number, designated_on, status"

    static func decode(_ rows: PostgresRowSequence) async throws -> [Institution] {
        var out: [Institution] = []
        for try await (id, code, name, designation, on, status) in rows.decode((Int, String, String, String, LocalDate, InstitutionStatus).self) {
            out.append(Institution(id: id, code: code, name: name, designationNumber: designation, designatedOn: on, status: status))
        }
        return out
    }

    /// The refusal for an institution code that names none.
    public static func unknown(_ code: String, field: String = "institution") -> RegistryError {
        .notFound(field, "no institution has code \(code)", remedy: .list(.institutions))
    }
}

/// Registered products.
public struct Products: Repository {
    let tx: Transaction

    /// Registers a product; minimally manipulated products never get here (NewProduct refuses them).
    public func add(_ new: NewProduct) async throws -> Product {
        let rows = try await c.query("""
            INSERT INTO product (code, name, manufacturer, modality, follow_up_class, follow_up_years)
            VALUES (\(new.code), \(new.name), \(new.manufacturer), \(new.modality), \(new.followUpClass), \(new.followUpClass.years))
            RETURNING \(unescaped: Self.columns)
            """, logger: logger)
        return try await Self.decode(rows).one("the new product")
    }

    /// Every product, by code.
    public func all() async throws -> [Product] {
        try await Self.decode(c.query("SELECT \(unescaped: Self.columns) FROM product ORDER BY code", logger: logger))
    }

    /// A product's id and follow-up class by code, or the refusal naming `product`.
    func idAndClass(code: String) async throws -> (id: Int, followUpClass: FollowUpClass) {
        let rows = try await c.query("SELECT id, follow_up_class FROM product WHERE code = \(code)", logger: logger)
        guard let (id, cls) = try await rows.decode((Int, FollowUpClass).self).firstElement() else {
            throw RegistryError.notFound("product", "no product has code \(code)", remedy: .list(.products))
        }
        return (id, cls)
    }

    static let columns = "id, code, name, manufacturer, modality, follow_up_class, follow_up_years"

    static func decode(_ rows: PostgresRowSequence) async throws -> [Product] {
        var out: [Product] = []
        for try await (id, code, name, manufacturer, modality, cls, years) in rows.decode((Int, String, String, String, Modality, FollowUpClass, Int32).self) {
            out.append(Product(id: id, code: code, name: name, manufacturer: manufacturer, modality: modality, followUpClass: cls,
                               followUpYears: Int(years)))
        }
        return out
    }
}
