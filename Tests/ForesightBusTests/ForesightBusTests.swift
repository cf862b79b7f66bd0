import Foundation
import Testing
import ForesightTestSupport
@testable import ForesightBus
@testable import ForesightWire

/// Waits until `subscriber` receives a warm-up message, so a sequence that follows is not lost
/// to ZeroMQ's slow-joiner effect.
func handshake(_ publisher: Publisher, _ iterator: inout AsyncStream<BusMessage>.Iterator) async {
    let warm = Task {
        while !Task.isCancelled {
            publisher.send(topic: "warmup", payload: [])
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
    while let message = await iterator.next() {
        if message.topic == "warmup" { break }
    }
    warm.cancel()
    _ = await warm.value
}

@Suite(.serialized) struct LoopbackTests {
    func deliver(endpoint: String) async throws {
        let context = try BusContext()
        var pubOptions = Publisher.Options()
        pubOptions.sendHighWaterMark = 0      // unbounded: this test must lose nothing
        pubOptions.queueCapacity = 20_000
        let publisher = try Publisher(context: context, endpoint: endpoint, options: pubOptions)
        var subOptions = Subscriber.Options()
        subOptions.receiveHighWaterMark = 0
        subOptions.bufferCapacity = 20_000
        subOptions.topics = ["warmup", "data/"]
        let subscriber = try Subscriber(context: context, endpoints: publisher.endpoints, options: subOptions)
        var iterator = subscriber.messages.makeAsyncIterator()
        await handshake(publisher, &iterator)

        let count = 10_000
        func size(_ i: Int) -> Int { i % 500 == 0 ? 2 << 20 : (i % 7) * 1_499 + 1 }
        for i in 0..<count {
            var payload = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: size(i))
            withUnsafeBytes(of: UInt32(i).littleEndian) { payload.replaceSubrange(0..<min(4, payload.count), with: $0.prefix(payload.count)) }
            publisher.send(topic: "data/\(i % 3)", payload: payload)
        }
        var received = 0
        while received < count, let message = await iterator.next() {
            guard message.topic?.hasPrefix("data/") == true else { continue }
            #expect(message.frames.count == 2)
            #expect(message.payload.count == size(received), "message \(received) has the wrong size")
            #expect(message.topic == "data/\(received % 3)")
            #expect(message.payload.last == UInt8(truncatingIfNeeded: received) || message.payload.count <= 4)
            received += 1
        }
        #expect(received == count)
        #expect(subscriber.statistics.dropped == 0)
        #expect(publisher.statistics.dropped == 0)
        subscriber.close()
        publisher.close()
    }

    @Test func tcpDeliversTenThousandMixedMessagesInOrder() async throws {
        try await deliver(endpoint: "tcp://127.0.0.1:*")
    }

    @Test func ipcDeliversTenThousandMixedMessagesInOrder() async throws {
        try await deliver(endpoint: TestSupport.ipcEndpoint())
    }

    @Test func closeWhileAReceiveIsBlockedEndsTheStream() async throws {
        let context = try BusContext()
        let subscriber = try Subscriber(context: context, endpoint: "tcp://127.0.0.1:1")  // nobody publishes there
        let consumer = Task { () -> Int in
            var n = 0
            for await _ in subscriber.messages { n += 1 }
            return n
        }
        try await Task.sleep(for: .milliseconds(150))
        subscriber.close()
        #expect(await consumer.value == 0)
        subscriber.close()  // idempotent
    }

    @Test func contextShutdownInterruptsEverything() async throws {
        let context = try BusContext()
        let subscriber = try Subscriber(context: context, endpoint: "inproc://nobody-\(UUID())", options: {
            var o = Subscriber.Options(); o.mode = .bind; o.pollIntervalMs = 60_000; return o  // would block for a minute
        }())
        let consumer = Task { for await _ in subscriber.messages {} }
        context.shutdown()
        await consumer.value
        subscriber.close()
    }

    @Test func bindConflictIsAnActionableError() throws {
        let context = try BusContext()
        let first = try Publisher(context: context, endpoint: "tcp://127.0.0.1:*")
        defer { first.close() }
        do {
            _ = try Publisher(context: context, endpoint: first.endpoints[0])
            Issue.record("second bind succeeded")
        } catch {
            #expect(error.errno == EADDRINUSE)
            #expect(error.description.contains(first.endpoints[0]) && error.description.contains("choose another port"), "\(error.description)")
        }
        #expect(throws: BusError.self) { try Subscriber(context: context, endpoint: "nonsense://x") }
    }

    @Test func proxyForwardsBetweenPublishersAndSubscribers() async throws {
        let context = try BusContext()
        let proxy = try BusProxy(context: context, frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*")
        var pubOptions = Publisher.Options()
        pubOptions.mode = .connect
        let publisher = try Publisher(context: context, endpoint: proxy.frontend, options: pubOptions)
        var subOptions = Subscriber.Options()
        subOptions.topics = ["warmup", "bs1/"]
        let subscriber = try Subscriber(context: context, endpoint: proxy.backend, options: subOptions)
        var iterator = subscriber.messages.makeAsyncIterator()
        await handshake(publisher, &iterator)
        publisher.send(topic: "other/x", payload: [0])
        publisher.send(topic: "bs1/sensor/gnss", payload: [1, 2, 3])
        var got: BusMessage?
        while let m = await iterator.next() {
            if m.topic != "warmup" { got = m; break }
        }
        #expect(got?.topic == "bs1/sensor/gnss" && got?.payload == [1, 2, 3])
        subscriber.close()
        publisher.close()
        proxy.close()
    }
}

/// The protocol across languages: Python (pyzmq + msgpack) ↔ Swift.
@Suite(.serialized) struct CrossLanguageTests {
    @Test func swiftDecodesEverySensorTypePublishedFromPython() async throws {
        let endpoint = TestSupport.tcpEndpoint()
        let python = try TestSupport.Child.python("wire_interop.py", ["publish", endpoint, "--seconds", "30"])
        defer { python.stop() }
        #expect(python.waitForLine { $0 == "ready" } != nil)
        let context = try BusContext()
        let subscriber = try Subscriber(context: context, endpoint: endpoint)
        defer { subscriber.close() }
        let sensors: [MessageType] = [.image, .radarCube, .pointCloud, .gnssFix, .beamPower]
        var ingest = WireIngest(routes: WireIngest.defaultRoutes(sensors))
        var decoded: [MessageType: any WireMessage] = [:]
        for await message in subscriber.messages {
            if case .success(let accepted) = ingest.accept(frames: message.frames) { decoded[accepted.type] = accepted.message }
            if decoded.count == sensors.count { break }
        }
        #expect(ingest.counters.rejectionSnapshot().isEmpty, "\(ingest.counters.rejectionSnapshot())")
        let fix = try #require(decoded[.gnssFix] as? GnssFix)
        #expect(fix.lat == 33.4255 && fix.fix == .rtk && fix.header.stamp > Int64(UInt32.max))
        let cloud = try #require(decoded[.pointCloud] as? PointCloud)
        #expect(cloud.count == 2 && cloud.droppedNonFinite == 1 && cloud.fields == ["x", "y", "z", "intensity"])
        #expect(Array(PackedArray.floats(cloud.data).prefix(4)) == [1, 2, 3, 0.5])
        let radar = try #require(decoded[.radarCube] as? RadarCube)
        #expect(radar.rx == 4 && radar.samples == 16 && radar.chirps == 8 && radar.data.count == 4 * 16 * 8 * 8)
        let image = try #require(decoded[.image] as? Image)
        #expect(Array(image.data) == Array(0..<18))
        let power = try #require(decoded[.beamPower] as? BeamPower)
        #expect(power.power[0] == 0.5 && power.power[2].isNaN)
    }

    @Test func pythonDecodesAndSchemaValidatesEveryOutputTypePublishedFromSwift() async throws {
        let context = try BusContext()
        let publisher = try Publisher(context: context, endpoint: "tcp://127.0.0.1:*")
        defer { publisher.close() }
        let header = Header(stamp: 1_700_000_000_500_000_000, seq: 3, frameID: "bs1")
        let horizon: [Int64] = (1...5).map { header.stamp + $0 * 100_000_000 }
        let outputs: [any WireMessage] = [
            BeamPrediction(header: header, model: "classical-ctrv", horizon: horizon, best: [10, 11, 12, 13, 14],
                           topk: (10...14).map { [$0, $0 + 1, $0 - 1] }, prob: Array(repeating: [0.6, 0.3, 0.1], count: 5)),
            PositionPrediction(header: header, model: "classical-ctrv", horizon: horizon, east: [1, 2, 3, 4, 5], north: [0, 0, 1, 1, 2],
                               lat: Array(repeating: 33.42, count: 5), lon: Array(repeating: -111.93, count: 5)),
            PowerPrediction(header: header, model: "classical-ctrv", horizon: horizon, beam: [10, 11, 12, 13, 14], powerDBm: [-60, -61, -62, -63, -64]),
            BlockagePrediction(header: header, model: "classical-ctrv", horizon: horizon, prob: [0, 0.25, 0.5, 0.75, 1]),
            FusionFrame(header: header, members: [.init(modality: "gnss", topic: "sensor/gnss", stamp: header.stamp, seq: 3)],
                        missing: ["radar"], latencyNs: 2_000_000),
            Diagnostics(header: header, uptimeS: 1, topics: [.init(topic: "sensor/gnss", rateHz: 10, received: 10, rejected: 0, dropped: 0, alive: true)],
                        rejections: [.init(topic: "sensor/camera", reason: "corrupt_jpeg", count: 1)],
                        stages: [.init(stage: "end_to_end", queueDepth: 0, dropped: 0, p50Ms: 5, p99Ms: 9)]),
        ]
        let topics = outputs.map { type(of: $0).messageType.defaultTopic }
        let python = try TestSupport.Child.python("wire_interop.py", ["subscribe", publisher.endpoints[0], "--schemas",
                                                                      TestSupport.path("docs/schemas"), "--expect"] + topics)
        defer { python.stop() }
        #expect(python.waitForLine { $0 == "ready" } != nil)
        // Publish until Python has seen every topic (it may join late).
        while python.process.isRunning {
            for message in outputs { publisher.send(topic: type(of: message).messageType.defaultTopic, payload: message.encoded()) }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(python.wait() == 0)
        let results = python.output.compactMap { line -> [String: Any]? in
            guard line.hasPrefix("{") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        #expect(Set(results.compactMap { $0["topic"] as? String }) == Set(topics))
        for result in results {
            #expect(result["valid"] as? Bool == true, "\(result["topic"] ?? "?"): \(result["error"] ?? "")")
        }
        let beam = try #require(results.first { $0["topic"] as? String == "predict/beam" }?["message"] as? [String: Any])
        #expect(beam["best"] as? [Int] == [10, 11, 12, 13, 14] && beam["model"] as? String == "classical-ctrv")
        #expect((beam["stamp"] as? NSNumber)?.int64Value == header.stamp)
    }
}
