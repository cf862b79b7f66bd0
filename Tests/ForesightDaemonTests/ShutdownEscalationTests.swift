import Foundation
import Logging
import ServiceLifecycle
import Testing
import UnixSignals
@testable import ForesightDaemon
import ForesightWire

/// A service whose drain never ends by itself (a stuck stage): it ignores graceful shutdown and
/// stops only when cancelled.
struct StuckDrainService: Service {
    let started = Locked(false)
    let cancelled = Locked(false)
    func run() async throws {
        started.withLock { $0 = true }
        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
        cancelled.withLock { $0 = true }
    }
}

/// A service that drains and returns on graceful shutdown.
struct PoliteService: Service {
    let cancelled = Locked(false)
    func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully { try? await Task.sleep(for: .milliseconds(10)) }
        } onGracefulShutdown: {}
        if Task.isCancelled { cancelled.withLock { $0 = true } }
    }
}

@Suite struct ShutdownEscalationTests {
    static func group(_ service: some Service, grace: Duration) -> ServiceGroup {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var configuration = ServiceGroupConfiguration(services: [service], logger: logger)
        configuration.maximumGracefulShutdownDuration = grace
        return ServiceGroup(configuration: configuration)
    }

    /// Runs the escalation in a task and returns it with the signal feed.
    static func start(_ group: ServiceGroup) -> (Task<Void, any Error>, AsyncStream<UnixSignal>.Continuation, Locked<Bool>) {
        let (signals, feed) = AsyncStream<UnixSignal>.makeStream()
        let done = Locked(false)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let task = Task {
            try await ShutdownEscalation.run(group, signals: signals, logger: logger) { _ in }
            done.withLock { $0 = true }
        }
        return (task, feed, done)
    }

    static func waitFor(_ flag: Locked<Bool>, seconds: Double) async -> Bool {
        for _ in 0..<Int(seconds * 100) where !flag.current { try? await Task.sleep(for: .milliseconds(10)) }
        return flag.current
    }

    @Test func theSecondSignalCancelsAStuckDrain() async throws {
        let service = StuckDrainService()
        let (task, feed, done) = Self.start(Self.group(service, grace: .seconds(600)))
        #expect(await Self.waitFor(service.started, seconds: 10))
        feed.yield(.sigterm)
        try await Task.sleep(for: .milliseconds(300))
        #expect(!done.current, "the stuck drain ended without a second signal")
        feed.yield(.sigint)
        #expect(await Self.waitFor(done, seconds: 10), "still running after the second signal (grace was 600 s)")
        #expect(service.cancelled.current)
        task.cancel()
    }

    @Test func theGracefulPeriodIsBounded() async throws {
        let service = StuckDrainService()
        let (task, feed, done) = Self.start(Self.group(service, grace: .milliseconds(300)))
        #expect(await Self.waitFor(service.started, seconds: 10))
        feed.yield(.sigterm)
        #expect(await Self.waitFor(done, seconds: 10), "a stuck drain outlived the 300 ms graceful period")
        #expect(service.cancelled.current, "it stopped, but not by cancellation")
        task.cancel()
    }

    @Test func aPoliteServiceDrainsWithoutCancellation() async throws {
        let service = PoliteService()
        let (task, feed, done) = Self.start(Self.group(service, grace: .seconds(600)))
        try await Task.sleep(for: .milliseconds(200))
        feed.yield(.sigterm)
        #expect(await Self.waitFor(done, seconds: 10))
        #expect(!service.cancelled.current)
        task.cancel()
    }
}
