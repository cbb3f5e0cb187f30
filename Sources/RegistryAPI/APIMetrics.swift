import Metrics
import Prometheus

/// The process's metrics, in Prometheus text format at /metrics: request counts and latencies by
/// route and status (Hummingbird's MetricsMiddleware), requests in flight, and the pool's
/// connections in use, wait time and size (RegistryStorage.Database).
public enum APIMetrics {
    /// The registry metrics are collected in. The first use installs it as swift-metrics' backend,
    /// once per process: do that before opening the database, whose meters bind on creation.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        // Prometheus names take no dots: hb.requests -> hb_requests, http.route -> http_route.
        factory.nameAndLabelSanitizer = { name, labels in
            (name.replacingOccurrences(of: ".", with: "_"), labels.map { ($0.0.replacingOccurrences(of: ".", with: "_"), $0.1) })
        }
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Installs the backend (idempotent).
    public static func bootstrap() { _ = registry }
}
