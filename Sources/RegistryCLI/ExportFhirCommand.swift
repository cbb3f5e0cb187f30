import ArgumentParser
import Foundation
import RegistryDomain
import RegistryReports
import RegistryStorage

extension ExportCommand {
    struct Fhir: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The registry as FHIR R4 resources: one NDJSON file per type and a Bulk Data manifest, for a stated purpose and recipient.",
            discussion: """
            Writes Patient (pseudonym, birth year, sex, death), ResearchStudy (one per product's long-term follow-up), ResearchSubject, Medication (product and lot), MedicationAdministration, Encounter (visits), Observation (measures, LOINC where the catalogue has it), AdverseEvent (grade in an extension, seriousness, causality) and CarePlan (the follow-up schedule) into DIR as <Type>.ndjson (mode 0600), with manifest.json as the Bulk Data Access IG's complete-status body. Pseudonymous: no names, resident numbers or contact data. Voided records are left out; every reference points into the same export. The export is recorded (report_pull, in the audit trail) with who, the purpose, the recipient and a checksum. docs/fhir.md describes each resource's fields.

            FHIR 자원(NDJSON, 유형별 파일 하나)과 manifest.json을 DIR에 씁니다. 목적과 받는 곳은 감사 추적에 기록됩니다.

            Examples:
              registry export fhir --out fhir/ --purpose "LTFU safety study 2027" --recipient "MFDS pharmacovigilance"
              registry export fhir --out arm-001/ --institution ARM-001 --type Patient,AdverseEvent --since 2026-01-01T00:00:00+09:00 --purpose "site audit" --recipient "ARM-001 IRB"
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "The folder to write the NDJSON files and manifest.json into (created, mode 0700, if missing).") var out: String
        @Option(help: "Why the export is made; recorded in the audit trail (required).") var purpose: String
        @Option(help: "Who receives the export (a person or organisation); recorded in the audit trail (required).") var recipient: String?
        @Option(help: "Only the patients this institution holds (code).") var institution: String?
        @Option(help: "Only these resource types, comma-separated (default: all): \(FhirResourceType.allCases.map(\.rawValue).joined(separator: ",")).")
        var type: String?
        @Option(help: "Only patients with a change recorded after this FHIR instant (e.g. 2026-01-01T00:00:00Z), with all their resources.")
        var since: String?
        @Flag(help: "No progress line on stderr.") var quiet = false

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                var words = ["registry", "export", "fhir", "--out", out]
                if let institution { words += ["--institution", institution] }
                if let type { words += ["--type", type] }
                if let since { words += ["--since", since] }
                let request = try FhirExportRequest(types: type, since: since, institution: institution, purpose: purpose, recipient: recipient,
                                                    role: .admin, actor: ctx.actor, request: words.joined(separator: " "))
                let directory = URL(fileURLWithPath: out, isDirectory: true).standardizedFileURL
                // A progress line on a terminal only, rewritten in place at most every quarter second.
                let terminal = !quiet && !global.json && isatty(FileHandle.standardError.fileDescriptor) == 1
                var shown = ContinuousClock.now - .seconds(1)
                let start = ContinuousClock.now
                let result = try await FhirExport.write(database: ctx.database, request: request, to: directory, today: ctx.today) { step in
                    guard terminal, ContinuousClock.now - shown >= .milliseconds(250) else { return }
                    shown = .now
                    FileHandle.standardError.write(Data(("\r\u{1B}[K" + step.text).utf8))
                }
                if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                let manifest = FhirManifest(result, request: request.request, requiresAccessToken: false) { file in
                    directory.appendingPathComponent(file).absoluteString
                }
                let manifestURL = directory.appendingPathComponent("manifest.json")
                guard FileManager.default.createFile(atPath: manifestURL.path, contents: manifest.json(), attributes: [.posixPermissions: 0o600]) else {
                    throw RegistryError.invalid("out", "cannot write \(manifestURL.path)")
                }
                let seconds = Double((ContinuousClock.now - start).components.seconds) + Double((ContinuousClock.now - start).components.attoseconds) / 1e18
                let counts = result.output.map { "\($0.count) \($0.type)" }.joined(separator: ", ")
                try ctx.emit(Summary(result: result, directory: directory.path, seconds: seconds)) {
                    "\(result.resources) resources of \(result.patients) patients written to \(directory.path) in \(String(format: "%.1f", seconds)) s"
                        + (counts.isEmpty ? "" : " (\(counts))") + "; export \(result.pull) recorded, checksum \(result.checksum)"
                }
            }
        }

        /// What `--json` prints.
        struct Summary: Encodable {
            var pull: Int
            var patients: Int
            var resources: Int
            var counts: [String: Int]
            var directory: String
            var checksum: String
            var transactionTime: String
            var seconds: Double

            init(result: FhirExportResult, directory: String, seconds: Double) {
                pull = result.pull; patients = result.patients; resources = result.resources
                counts = Dictionary(uniqueKeysWithValues: result.output.map { ($0.type, $0.count) })
                self.directory = directory; checksum = result.checksum; transactionTime = result.transactionTime
                self.seconds = (seconds * 10).rounded() / 10
            }
        }
    }
}
