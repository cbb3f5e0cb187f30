/// A patient with everything recorded about them, as every front end shows one patient.
public struct PatientRecord: Encodable, Equatable, Sendable {
    public var patient: Patient
    public var administrations: [Administration]
    public var followUps: [FollowUp]
    public var visits: [Visit]
    public var adverseEvents: [AdverseEvent]
    public var statusChanges: [StatusChange]

    public init(patient: Patient, administrations: [Administration], followUps: [FollowUp], visits: [Visit],
                adverseEvents: [AdverseEvent], statusChanges: [StatusChange]) {
        self.patient = patient; self.administrations = administrations; self.followUps = followUps; self.visits = visits
        self.adverseEvents = adverseEvents; self.statusChanges = statusChanges
    }
}
