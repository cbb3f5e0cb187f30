import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The HTTP server around the API, and the services `registry serve` runs beside it.
public enum APIServer {
    /// The Hummingbird application serving `api` on `host:port` (port 0: any free port, reported
    /// to `onServerRunning`).
    public static func application(api: RegistryAPI, host: String, port: Int, logger: Logger,
                                   onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol & Service {
        Application(router: api.buildRouter(),
                    configuration: .init(address: .hostname(host, port: port), serverName: "registry"),
                    onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
                    logger: logger)
    }
}
