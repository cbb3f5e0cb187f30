import Foundation

/// The numbered SQL migrations in this folder, shipped inside the build as resources.
public enum SchemaFiles {
    /// The `NNNN_*.sql` files, sorted by name.
    public static func migrationURLs() -> [URL] {
        guard let dir = Bundle.module.resourceURL,
              let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return names.filter { $0.hasSuffix(".sql") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// Migrations in the source folder this binary was built from that the build does not carry.
    /// Package.swift lists schema/*.sql when SwiftPM evaluates it, and SwiftPM caches that until
    /// Package.swift changes, so a file added since needs `swift build --manifest-cache none`.
    public static func missingFromBuild() -> [String] {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: source.path) else { return [] }
        let bundled = Set(migrationURLs().map(\.lastPathComponent))
        return names.filter { $0.hasSuffix(".sql") && !bundled.contains($0) }.sorted()
    }
}
