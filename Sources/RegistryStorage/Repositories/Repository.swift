import Logging
import PostgresNIO

/// What every repository is: a view of one open transaction, for one kind of record. Repositories
/// are made from the transaction (`tx.patients`), hold nothing else, and call each other through it.
protocol Repository: Sendable {
    var tx: Transaction { get }
}

extension Repository {
    var c: PostgresConnection { tx.connection }
    var logger: Logger { tx.logger }
}

extension Transaction {
    /// Designated institutions.
    public var institutions: Institutions { Institutions(tx: self) }
    /// Registered products.
    public var products: Products { Products(tx: self) }
    /// Follow-up protocols and their time points.
    public var protocols: Protocols { Protocols(tx: self) }
    /// Treatment plans, their committee decisions and risk classes.
    public var plans: Plans { Plans(tx: self) }
    /// Patients, known by pseudonym only.
    public var patients: Patients { Patients(tx: self) }
    /// Administrations (doses) and the schedules they generate.
    public var administrations: Administrations { Administrations(tx: self) }
    /// Follow-ups: schedules, worklists, closures.
    public var followUps: FollowUps { FollowUps(tx: self) }
    /// Visits and their measures.
    public var visits: Visits { Visits(tx: self) }
    /// The measure catalogue visits are checked against.
    public var measures: Measures { Measures(tx: self) }
    /// Adverse events and their expedited reports.
    public var adverseEvents: AdverseEvents { AdverseEvents(tx: self) }
    /// Patients' dated status changes and their effect on follow-ups.
    public var statusChanges: StatusChanges { StatusChanges(tx: self) }
    /// Lost-to-follow-up proposals of the nightly job.
    public var lostProposals: LostProposals { LostProposals(tx: self) }
    /// API tokens.
    public var tokens: Tokens { Tokens(tx: self) }
    /// People's accounts: passwords, second factors, sign-ins.
    public var users: Users { Users(tx: self) }
    /// The web application's server-side sessions.
    public var webSessions: WebSessions { WebSessions(tx: self) }
    /// Stored first responses of idempotent API writes.
    public var idempotentReplies: IdempotentReplies { IdempotentReplies(tx: self) }
    /// The registry's settings.
    public var settings: Settings { Settings(tx: self) }
    /// Regulators' suppressed counts by institution.
    public var summaries: Summaries { Summaries(tx: self) }
    /// Which stored version a record is at.
    public var versions: RecordVersions { RecordVersions(tx: self) }
}
