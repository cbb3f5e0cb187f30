// swift-tools-version:6.0
import Foundation
import PackageDescription

// schema/ holds the numbered migrations; each .sql file there ships as a resource.
let schemaDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("schema")
let migrationFiles = ((try? FileManager.default.contentsOfDirectory(atPath: schemaDirectory.path)) ?? [])
    .filter { $0.hasSuffix(".sql") }.sorted()

let package = Package(
    name: "registry",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "registry", targets: ["registry"]),
    ],
    dependencies: [
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/pointfreeco/swift-tagged", from: "0.10.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
    ],
    targets: [
        // Pure domain: value types and rules, no I/O.
        .target(
            name: "RegistryDomain",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Tagged", package: "swift-tagged"),
            ]
        ),
        // The migrations, as a module whose resources are schema/*.sql.
        .target(
            name: "RegistrySchema",
            path: "schema",
            sources: ["SchemaFiles.swift"],
            resources: migrationFiles.map { .copy($0) }
        ),
        // Storage on PostgresNIO: migrations, repositories, embedded cluster.
        .target(
            name: "RegistryStorage",
            dependencies: [
                "RegistryDomain", "RegistrySchema",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Tagged", package: "swift-tagged"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // bcrypt for people's passwords (schema/0014): the C implementation, no HTTP parts.
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            // Swift 6.3.1's optimizer crashes (signal 11, "while splitting coroutine" of async
            // repository functions such as AdverseEvents.submitReport) building this module at -O;
            // -Osize builds it. Release builds only; debug builds are unoptimised anyway.
            swiftSettings: [.unsafeFlags(["-Osize"], .when(configuration: .release))]
        ),
        // Synthetic national registry for demos and benchmarks, bulk-loaded with COPY.
        .target(
            name: "RegistryDemo",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryImport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // The nightly job runner: exactly-once runs, set-based steps, worklist digests, the worker.
        .target(
            name: "RegistryJobs",
            dependencies: [
                "RegistryDomain", "RegistryStorage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Regulators' outcome reports: set-based aggregates, survival, suppression, JSON/CSV/HTML;
        // the command line and the HTTP API call it with the caller's role.
        .target(
            name: "RegistryReports",
            dependencies: [
                "RegistryDomain", "RegistryStorage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources")]
        ),
        // Bulk CSV import: each row checked by the domain's rules, the database's checks set-based,
        // rows written through COPY into staging tables and one statement per target table.
        .target(
            name: "RegistryImport",
            dependencies: [
                "RegistryDomain", "RegistryStorage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The HTTP API: Hummingbird routes over the repositories, scoped tokens, problem documents,
        // idempotent POSTs, metrics; every request's transaction under row-level security. No SQL:
        // it does not see PostgresNIO.
        .target(
            name: "RegistryAPI",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryReports", "RegistryImport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("openapi.yaml")]
        ),
        // The web application for people (coordinators, regulators, administrators): server-rendered
        // pages in Korean and English from Mustache templates and message catalogues, signed-in
        // sessions, CSRF tokens, a strict Content-Security-Policy; every page's transaction under
        // the same row-level security as the API. No SQL: it does not see PostgresNIO.
        .target(
            name: "RegistryWeb",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryReports",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources")]
        ),
        // The server's composition: one function builds the ServiceGroup (pools, sealer, pruner,
        // worker, HTTP application) from configuration; the only module that sees them all.
        .target(
            name: "RegistryServer",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryJobs", "RegistryAPI", "RegistryWeb",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The command-line tool's commands, as a library so tests can drive them. No SQL.
        .target(
            name: "RegistryCLI",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryDemo", "RegistryJobs", "RegistryReports", "RegistryImport", "RegistryAPI", "RegistryWeb", "RegistryServer",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(name: "registry", dependencies: [
            "RegistryCLI",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // What more than one test target uses: per-test databases cloned from one migrated template
        // (built once per test process), fixtures, and the built binary. swift-testing's `Testing`
        // comes with the toolchain.
        .target(
            name: "RegistryTestSupport",
            dependencies: [
                "RegistryDomain", "RegistryStorage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/RegistryTestSupport"
        ),
        .testTarget(
            name: "RegistryDomainTests",
            dependencies: [
                "RegistryDomain",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "RegistryStorageTests",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "RegistryJobsTests",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryJobs", "RegistryTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "RegistryReportsTests",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryReports", "RegistryDemo", "RegistryTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "RegistryImportTests",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryImport", "RegistryTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "RegistryDemoTests",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryDemo", "RegistryTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // The command line as users run it: these drive the built `registry` binary ($REGISTRY_BINARY,
        // else .build/debug/registry), so they import no CLI module.
        .testTarget(
            name: "RegistryCLITests",
            dependencies: ["RegistryDomain", "RegistryStorage", "RegistryTestSupport"]
        ),
        // The HTTP API over real HTTP against real PostgreSQL.
        .testTarget(
            name: "RegistryAPITests",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryAPI", "RegistryReports", "RegistryTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // The web application's pages over real HTTP against real PostgreSQL, and its catalogues.
        .testTarget(
            name: "RegistryWebTests",
            dependencies: [
                "RegistryDomain", "RegistryStorage", "RegistryWeb", "RegistryTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["extract-refusals.py", "refusal-messages.txt"]
        ),
    ]
)
