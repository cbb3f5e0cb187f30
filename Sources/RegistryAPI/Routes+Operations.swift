import Foundation
import Hummingbird
import NIOCore
import RegistryDomain
import RegistryStorage

/// The API's contract, shipped inside the build and served at /openapi.yaml.
public enum OpenAPIDocument {
    /// The document's text.
    public static let text: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
              let text = try? String(contentsOf: url, encoding: .utf8) else { return "" }
        return text
    }()
}

extension RegistryAPI {
    /// Endpoints for operators and load balancers; no token needed.
    func addOperationRoutes(_ router: Router<Context>) {
        router.get("/health") { _, _ in
            try Reply.json(["status": "up"]).response()
        }

        let serving = self.serving
        router.get("/ready") { _, _ in
            if serving.isDraining { throw Problem(.unavailable, detail: "the server is shutting down; send new requests to another instance") }
            do {
                try await database.ping(deadline: .seconds(2))
                return try Reply.json(["status": "ready"]).response()
            } catch {
                throw Problem(.unavailable, detail: "the database cannot be reached: \(DatabaseErrors.summary(error))")
            }
        }

        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            APIMetrics.registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }

        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.text)))
        }
    }
}
