import Dispatch
import Foundation
import ForesightBus
import ForesightWire
import Histogram

/// CURVE's cost side by side with plain TCP, on DeepSense-size frames over loopback: a frame is
/// five messages (camera JPEG 120 kB, radar cube 4×256×250 complex64 = 2 MB, LiDAR 18k points
/// 288 kB, GNSS, beam power 256 B), published by a `Publisher` and received by a `Subscriber`
/// exactly as the daemon does. Latency is first send → last receive of a frame; CPU is this
/// process's user + system time per frame (both ends encrypt/decrypt here).
let curveBenchmark = Benchmark(name: "curve") { report in
    let sizes = [120_000, 2_048_000, 288_000, 64, 256]
    let topics = ["sensor/camera", "sensor/radar", "sensor/lidar", "sensor/gnss", "sensor/beam_power"]
    let frameBytes = Double(sizes.reduce(0, +))
    report.record("frame size", frameBytes / 1e6, "MB")
    for secured in [false, true] {
        let mode = secured ? "curve" : "plain"
        let rig = try CurveBenchRig(secured: secured, topics: topics)
        defer { rig.close() }
        // 10 Hz, paced (latency as a sensor rig sees it).
        let paced = rig.run(frames: 60, sizes: sizes, period: 0.1)
        report.recordLatency("\(mode) 10 Hz frame latency", paced.latency)
        report.record("\(mode) 10 Hz CPU per frame", paced.cpuPerFrame * 1e3, "ms")
        // As fast as possible (throughput; one frame in flight at a time).
        let fast = rig.run(frames: 80, sizes: sizes, period: 0)
        report.recordLatency("\(mode) max-rate frame latency", fast.latency)
        report.record("\(mode) max-rate frames", Double(80) / fast.wall, "frames/s")
        report.record("\(mode) max-rate throughput", frameBytes * 80 / fast.wall / 1e6, "MB/s")
        report.record("\(mode) max-rate CPU per frame", fast.cpuPerFrame * 1e3, "ms")
    }
}

/// A publisher and a subscriber over loopback TCP, with or without CURVE.
private final class CurveBenchRig: @unchecked Sendable {
    let publisher: Publisher
    let subscriber: Subscriber
    let zap: ZapHandler?
    private let arrivals = Locked<[Int: UInt64]>([:])  // frame → last receive (ns, uptime)
    private let counts = Locked<[Int: Int]>([:])
    private let frameDone = DispatchSemaphore(value: 0)
    private var consumer: Task<Void, Never>?
    let topics: [String]

    init(secured: Bool, topics: [String]) throws {
        self.topics = topics
        let context = try BusContext()
        var pubOptions = Publisher.Options()
        pubOptions.sendHighWaterMark = 0
        pubOptions.lingerMs = 0
        var subOptions = Subscriber.Options()
        subOptions.receiveHighWaterMark = 0
        subOptions.bufferCapacity = 100_000
        subOptions.topics = topics + ["warmup"]
        if secured {
            let server = try CurveCertificate.generate(), client = try CurveCertificate.generate()
            zap = try ZapHandler(context: context, allowed: ["bench": [client.publicKey]])
            pubOptions.curve = try CurveSecurity(certificate: server, domain: "bench")
            subOptions.curve = try CurveSecurity(certificate: client, serverKeys: [server.publicKey])
        } else {
            zap = nil
        }
        publisher = try Publisher(context: context, endpoint: "tcp://127.0.0.1:*", options: pubOptions)
        subscriber = try Subscriber(context: try BusContext(), endpoint: publisher.endpoints[0], options: subOptions)
        let stream = subscriber.messages, arrivals = self.arrivals, counts = self.counts, done = frameDone
        let perFrame = topics.count
        let warm = DispatchSemaphore(value: 0)
        consumer = Task.detached {
            var warmed = false
            for await message in stream {
                let now = DispatchTime.now().uptimeNanoseconds
                if message.topic == "warmup" {
                    if !warmed { warmed = true; warm.signal() }
                    continue
                }
                let payload = message.payload
                guard payload.count >= 8 else { continue }
                let frame = payload.withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) }
                let complete = counts.withLock { c -> Bool in c[frame, default: 0] += 1; return c[frame] == perFrame }
                if complete {
                    arrivals.withLock { $0[frame] = now }
                    done.signal()
                }
            }
        }
        // Slow joiner: publish warm-ups until the subscriber hears one.
        while warm.wait(timeout: .now() + .milliseconds(20)) == .timedOut { publisher.send(topic: "warmup", payload: []) }
    }

    struct Result {
        var latency: Histogram<UInt64>
        var cpuPerFrame: Double
        var wall: Double
    }

    func run(frames: Int, sizes: [Int], period: Double) -> Result {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        let base = Int.random(in: 1_000...1_000_000_000)
        let blobs = sizes.map { [UInt8](repeating: 0x5a, count: max(8, $0)) }
        let cpu0 = cpuSeconds(), wall0 = DispatchTime.now().uptimeNanoseconds
        for i in 0..<frames {
            let frame = base + i
            let start = DispatchTime.now().uptimeNanoseconds
            for (topic, blob) in zip(topics, blobs) {
                var payload = blob
                withUnsafeBytes(of: UInt64(frame)) { payload.replaceSubrange(0..<8, with: $0) }
                publisher.send(topic: topic, payload: payload)
            }
            frameDone.wait()
            let end = arrivals.withLock { $0[frame] } ?? DispatchTime.now().uptimeNanoseconds
            histogram.record(end > start ? end - start : 0)
            if period > 0 {
                let due = wall0 + UInt64(Double(i + 1) * period * 1e9)
                let now = DispatchTime.now().uptimeNanoseconds
                if due > now { usleep(useconds_t((due - now) / 1_000)) }
            }
        }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - wall0) / 1e9
        return Result(latency: histogram, cpuPerFrame: (cpuSeconds() - cpu0) / Double(frames), wall: wall)
    }

    func close() {
        subscriber.close()
        publisher.close()
        zap?.close()
        consumer?.cancel()
    }
}

/// This process's user + system CPU time, seconds.
private func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}
