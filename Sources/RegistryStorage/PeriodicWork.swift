import ServiceLifecycle

/// Runs `work` first after `firstAfter` (default: `interval`), then every `interval`, until the
/// service group shuts down gracefully or the task is cancelled; work under way finishes first.
func repeatUntilShutdown(every interval: Duration, firstAfter: Duration? = nil, _ work: @escaping @Sendable () async -> Void) async {
    await cancelWhenGracefulShutdown {
        var wait = firstAfter ?? interval
        while !Task.isCancelled {
            do { try await Task.sleep(for: wait) } catch { return }
            await work()
            wait = interval
        }
    }
}
