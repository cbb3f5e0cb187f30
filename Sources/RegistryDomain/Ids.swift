@_exported import Tagged

// Typed ids for the records a user can mix up: each is an `Int` underneath (the row's key, its JSON
// number and its text on the command line stay as they were), but a follow-up's id is not a
// visit's, and a function that takes a patient's id refuses an administration's at compile time.
// Literals still work where a type is known (`let id: PatientID = 7`). Institutions, products,
// protocols, tokens and job runs are named by code or used in one place, so they stay plain `Int`.

/// A patient's id.
public typealias PatientID = Tagged<Patient, Int>
/// An administration's id.
public typealias AdministrationID = Tagged<Administration, Int>
/// A treatment plan's id.
public typealias PlanID = Tagged<TreatmentPlan, Int>
/// A follow-up's id.
public typealias FollowUpID = Tagged<FollowUp, Int>
/// A visit's id.
public typealias VisitID = Tagged<Visit, Int>
/// An adverse event's id.
public typealias AdverseEventID = Tagged<AdverseEvent, Int>
/// A status change's id.
public typealias StatusChangeID = Tagged<StatusChange, Int>
/// A proposal's id (a patient proposed as lost to follow-up).
public typealias LostProposalID = Tagged<LostProposal, Int>
