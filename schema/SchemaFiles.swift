import Foundation

/// The numbered SQL migrations in this folder, shipped inside the build as resources.
public enum SchemaFiles {
    /// The `NNNN_*.sql` files, sorted by name.
    public static func migrationURLs() -> [URL] {
        guard let dir = Bundle.module.resourceURL,
              let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return names.filter { $0.hasSuffix(".sql") }.sorted().map { dir.appendingPathComponent($0) }
    }
}
