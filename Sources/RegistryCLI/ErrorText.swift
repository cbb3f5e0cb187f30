import RegistryDomain

/// How the command line words a refusal: the domain names the field and the next step; here the
/// next step becomes the command that takes it.
extension RegistryError {
    /// The hint as a command-line user reads it: the remedy as a command, else the plain hint.
    var commandLineHint: String? {
        guard let remedy else { return hint }
        switch remedy {
        case .list(let listing):
            let command = switch listing {
            case .institutions: "registry institution list"
            case .products: "registry product list"
            case .plans: "registry plan list"
            case .tokens: "registry token list"
            case .lostProposals: "registry jobs proposal list"
            case .jobRuns: "registry jobs history"
            case .followUps: "registry followups list --patient ID"
            case .measures: "registry measure list"
            }
            return "list them with: \(command)"
        case .decidePlan(let id):
            return "record the committee's approval with: registry plan decide \(id) --decision approved --on DATE --reference REF"
        case .enrolment: return "patient ids are printed by registry patient enroll"
        case .recordDeathWithVisit(let patientID):
            return "add --record-death to record the death on the visit's date, or record it first with: registry patient death --patient \(patientID) --on DATE --cause \"...\""
        case .markDistinct(let id):
            return "if it is the same event, correct it instead: registry ae correct \(id) ... --reason \"...\"; if it is a second, separate event, add --distinct"
        case .enrolPatient(let institution):
            return "check the key; to enrol the patient: registry patient enroll --institution \(institution) --local-id KEY --birth-year YYYY --sex S --consent-on DATE --consent-version V"
        case .migrate: return "run: registry migrate"
        case .sealAgain: return "run registry audit seal again once it has finished"
        case .startEmbeddedDatabase: return "start it with: registry db start"
        case .checkDatabase: return "check that the server is running and the URL is right, or omit --database-url to use the embedded database"
        case .installPostgreSQL: return "install it with: apt-get install -y postgresql libpq-dev (or pass --database-url to use an existing server)"
        case .resumeNightly(let asOf): return "fix the cause, then resume at that step with: registry jobs run nightly --as-of \(asOf)"
        case .showJobRun(let id): return "see: registry jobs show \(id)"
        case .correctVisit(let id): return "correct that visit instead: registry visit correct \(id.map(String.init) ?? "VISIT") --reason ..."
        case .correctReportSubmission(let id): return "correct it with: registry ae correct \(id) --submitted-on DATE --reason ..."
        case .confirm: return "nothing was changed; run the same command with --confirm to apply it with these consequences"
        case .voidStatusChange(let id): return "void the later change first: registry status-change void \(id) --reason \"...\""
        case .correctAdverseEvent(let id): return "correct its grade with: registry ae correct \(id) --grade N --reason \"...\", or void it: registry ae void \(id) --reason \"...\""
        case .logAsScreening: return "if it is a screening visit before the dose, add --screening"
        }
    }

    /// The lines for stderr, one per field at fault (each `commandLineDescription`).
    var commandLineLines: [String] { all.map(\.commandLineDescription) }

    /// One line for stderr: the field, what was wrong, and what to do (this field only; `others`
    /// have lines of their own, `commandLineLines`).
    var commandLineDescription: String {
        if case .confirm(let consequences)? = remedy {
            // One line each: what would also change, then how to apply it.
            return (["\(message.prefix { $0 != ":" }):"] + consequences.map { "  - \($0.text)" } + [commandLineHint ?? ""]).joined(separator: "\n")
        }
        var text = field.map { "\($0): \(message)" } ?? message
        if let hint = commandLineHint { text += " (\(hint))" }
        return text
    }
}
