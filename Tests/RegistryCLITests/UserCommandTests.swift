import Foundation
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// Issue #15: `registry user` as an administrator runs it.
@Suite("registry user", .serialized)
struct UserCommandTests {
    @Test("add prints a one-time password to change at first sign-in (initial_password in --json); list, disable and reset; errors one line per field")
    func accounts() async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let cli = RegistryBinary(databaseURL: url, home: home)
        #expect(try cli.run(["institution", "add", "--code", "ARM-001", "--name", "Example University Hospital", "--designation", "D-2025-001", "--designated-on", "2025-02-21"]).status == 0)

        let added = try cli.run(["user", "add", "--username", "Kim.J", "--role", "coordinator", "--institution", "ARM-001", "--json"])
        #expect(added.status == 0, "\(added.stderr)")
        let json = try #require(added.json as? [String: Any])
        let user = try #require(json["user"] as? [String: Any])
        #expect(user["username"] as? String == "kim.j" && user["role"] as? String == "coordinator" && user["institution_code"] as? String == "ARM-001")
        #expect(user["must_change_password"] as? Bool == true && user["totp_enabled"] as? Bool == false)
        #expect((user["created_at"] as? String)?.hasSuffix("Z") == true)
        let initial = try #require(json["initial_password"] as? String)
        #expect(initial.count == 19 && initial.split(separator: "-").count == 4)

        let text = try cli.run(["user", "add", "--username", "lee.mfds", "--role", "regulator"])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].count == 19 && lines[1].contains("lee.mfds (regulator)") && lines[1].contains("must be changed at the first sign-in"), "\(text.stdout)")

        // Every field at fault, one line each; nothing written.
        let wrong = try cli.run(["user", "add", "--username", "k!", "--role", "nurse", "--institution", "ARM-1"])
        #expect(wrong.status == 1)
        let errors = wrong.stderr.split(separator: "\n")
        #expect(errors.count == 3 && errors.allSatisfy { $0.hasPrefix("error: ") }, "\(wrong.stderr)")
        #expect(errors.first?.hasPrefix("error: username: ") == true && errors.last?.hasPrefix("error: institution: ") == true, "\(wrong.stderr)")
        let taken = try cli.run(["user", "add", "--username", "kim.j", "--role", "coordinator", "--institution", "ZZZ-999"])
        #expect(taken.status == 1 && taken.stderr.split(separator: "\n").count == 2 && taken.stderr.contains("is taken"), "\(taken.stderr)")

        let listed = try #require(try cli.run(["user", "list", "--json"]).json as? [[String: Any]])
        #expect(listed.map { $0["username"] as? String } == ["kim.j", "lee.mfds"])
        #expect(listed.allSatisfy { $0["initial_password"] == nil && $0["password_hash"] == nil })
        let table = try cli.run(["user", "list"])
        #expect(table.stdout.hasPrefix("USERNAME") && table.stdout.contains("one-time"), "\(table.stdout)")

        // Signing in is the web application's; here the storage layer checks the printed password works.
        let db = try await Database.open(url, logger: TestDatabase.logger)
        let signedIn = try await db.transaction(actor: "web") { tx in try await tx.users.signIn(username: "kim.j", password: initial, totp: nil) }
        guard case .signedIn = signedIn else { Issue.record("the printed one-time password did not sign in: \(signedIn)"); await db.close(); return }

        let reset = try cli.run(["user", "reset", "--username", "kim.j", "--json"])
        #expect(reset.status == 0, "\(reset.stderr)")
        let again = try #require((reset.json as? [String: Any])?["initial_password"] as? String)
        #expect(again != initial)
        let signedInAgain = try await db.transaction(actor: "web") { tx in try await tx.users.signIn(username: "kim.j", password: again, totp: nil) }
        guard case .signedIn(let account) = signedInAgain, account.mustChangePassword else { Issue.record("the reset password did not sign in"); await db.close(); return }
        await db.close()

        let noReason = try cli.run(["user", "disable", "--username", "kim.j"])
        #expect(noReason.status == 1 && noReason.stderr.contains("reason"), "\(noReason.stderr)")
        let disabled = try cli.run(["user", "disable", "--username", "kim.j", "--reason", "left the hospital"])
        #expect(disabled.status == 0 && disabled.stdout.contains("kim.j (coordinator at ARM-001) disabled"), "\(disabled.stdout)\(disabled.stderr)")
        let after = try #require(try cli.run(["user", "list", "--json"]).json as? [[String: Any]])
        #expect(after.first?["disabled_at"] as? String != nil && after.last?["disabled_at"] == nil)
        let unknown = try cli.run(["user", "reset", "--username", "nobody"])
        #expect(unknown.status == 1 && unknown.stderr.contains("registry user list"), "\(unknown.stderr)")
        try await TestDatabase.drop(url)
    }

    @Test("accounts are the registry's: refused while acting for a site, before anything is written")
    func notForASite() async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let cli = RegistryBinary(databaseURL: url, home: home)
        #expect(try cli.run(["institution", "add", "--code", "ARM-001", "--name", "Example University Hospital", "--designation", "D-2025-001", "--designated-on", "2025-02-21"]).status == 0)
        for arguments in [["user", "add", "--username", "kim.j", "--role", "coordinator", "--institution", "ARM-001"], ["user", "list"]] {
            let refused = try cli.run(arguments, environment: ["REGISTRY_INSTITUTION": "ARM-001"])
            #expect(refused.status == 1 && refused.stderr.contains("acts for the whole registry"), "\(refused.stderr)")
        }
        let asOption = try cli.run(["user", "add", "--username", "kim.j", "--role", "coordinator", "--institution", "ARM-001", "--as-institution", "ARM-001"])
        #expect(asOption.status == 1, "\(asOption.stdout)")
        #expect(try await TestDatabase.count(url, "app_user") == 0)
        let help = try cli.run(["user", "add", "--help"])
        #expect(help.stdout.contains("registry user add --username kim.j --role coordinator --institution ARM-001"))
        try await TestDatabase.drop(url)
    }
}
