import Foundation
import ForesightWire
import Testing
@testable import ForesightBag

/// The built `foresight` executable next to the test bundle (built by `swift build --build-tests`).
/// Tests that need it `#require` it with `missingBinary` as the message: a missing executable
/// fails them with that explanation, it never skips them silently.
let foresightBinary: String? = {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("foresight").path,
        packageRoot.appendingPathComponent(".build/debug/foresight").path,
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// Why a command test failed before it started.
let missingBinary: Comment = "the foresight executable was not built: run `swift build --build-tests` (or `make test`) before `swift test --skip-build`"

/// A TCP port that is free right now.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

@Suite(.serialized) struct BagCommandTests {
    /// Records a live stream with the real `foresight record`, kills it with SIGKILL mid-way,
    /// recovers the file with `foresight bag recover`, and checks it with the Python reader.
    @Test
    func sigkilledRecordingIsRecovered() throws {
        let binary = try #require(foresightBinary, missingBinary)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let bag = dir.appendingPathComponent("killed.mcap").path

        let publisher = Process()
        publisher.executableURL = packageRoot.appendingPathComponent(".venv/bin/python")
        publisher.arguments = [packageRoot.appendingPathComponent("Tools/mcap_pub.py").path, endpoint,
                               "--rate", "2000", "--seconds", "20", "--payload", "4000"]
        publisher.standardOutput = FileHandle.nullDevice
        try publisher.run()
        defer { kill(publisher.processIdentifier, SIGKILL); publisher.waitUntilExit() }

        let recorder = Process()
        recorder.executableURL = URL(fileURLWithPath: binary)
        recorder.arguments = ["record", endpoint, "-o", bag, "--chunk-size", "65536", "--duration", "60"]
        recorder.standardOutput = FileHandle.nullDevice
        recorder.standardError = FileHandle.nullDevice
        try recorder.run()
        // Wait until several chunks are on disk (or give up after 20 s).
        let deadline = Date().addingTimeInterval(20)
        var size: UInt64 = 0
        while Date() < deadline {
            size = (try? FileManager.default.attributesOfItem(atPath: bag)[.size] as? UInt64) ?? 0
            if size > 600_000 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(recorder.processIdentifier, SIGKILL)
        recorder.waitUntilExit()
        #expect(recorder.terminationReason == .uncaughtSignal)
        #expect(size > 600_000, "the recorder wrote only \(size) bytes in 20 s")

        // The cut-off file is rejected by the Python reader and by our summary reader.
        #expect(try python("mcap_check.py", [bag]).status != 0)
        #expect(try BagReader(path: bag).readSummary() == nil)

        // Every reader of the unfinished file says so and how to repair it (the recorder died
        // between records, so nothing is cut mid-record: only the missing footer tells).
        let launch = packageRoot.appendingPathComponent("launch/sim.yaml").path
        let readers: [[String]] = [
            ["bag", "info", bag], ["bag", "info", "--json", bag], ["echo", bag, "--count", "1"],
            ["replay", bag, "--as-fast-as-possible", "--delay", "0", "--endpoint", "tcp://127.0.0.1:\(freePort())"],
            ["eval", bag, "--launch", launch],
            ["preprocess", bag, "--index", "0", "--out", dir.appendingPathComponent("frame").path, "--launch", launch],
        ]
        for arguments in readers {
            let result = try run(binary, arguments)
            #expect(result.stderr.contains("was not closed (crash?)") && result.stderr.contains("foresight bag recover"),
                    "foresight \(arguments.prefix(2).joined(separator: " ")) did not warn: \(result.stderr)")
        }

        let fixed = dir.appendingPathComponent("fixed.mcap").path
        let recovered = try run(binary, ["bag", "recover", bag, "-o", fixed])
        #expect(recovered.status == 0, "bag recover failed: \(recovered.stderr)")
        let check = try python("mcap_check.py", [fixed])
        #expect(check.status == 0, "python rejected the recovered file: \(check.stderr)")
        let json = try JSONSerialization.jsonObject(with: check.stdout) as? [String: Any]
        let messages = oracleMessages(json?["messages"])
        #expect(messages.count > 100)
        #expect(Set(messages.map(\.topic)) == ["sensor/camera", "sensor/gnss"])
        let info = try BagReader(path: fixed).info()
        #expect(info.topics.map(\.schemaName) == ["foresight.Image", "foresight.GnssFix"])
    }

    /// `foresight record` finishes the file properly on SIGINT.
    @Test
    func sigintFinishesTheFile() throws {
        let binary = try #require(foresightBinary, missingBinary)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let bag = dir.appendingPathComponent("int.mcap").path
        let publisher = Process()
        publisher.executableURL = packageRoot.appendingPathComponent(".venv/bin/python")
        publisher.arguments = [packageRoot.appendingPathComponent("Tools/mcap_pub.py").path, endpoint,
                               "--rate", "500", "--seconds", "20", "--payload", "200", "--topics", "sensor/gnss"]
        publisher.standardOutput = FileHandle.nullDevice
        try publisher.run()
        defer { kill(publisher.processIdentifier, SIGKILL); publisher.waitUntilExit() }
        let recorder = Process()
        recorder.executableURL = URL(fileURLWithPath: binary)
        recorder.arguments = ["record", endpoint, "-o", bag, "--compression", "lz4", "--exclude", "^debug/"]
        recorder.standardOutput = FileHandle.nullDevice
        recorder.standardError = FileHandle.nullDevice
        try recorder.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let size = (try? FileManager.default.attributesOfItem(atPath: bag)[.size] as? UInt64) ?? 0
            if size > 20_000 { break }  // at least one chunk flushed (age flush after 1 s)
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(recorder.processIdentifier, SIGINT)
        recorder.waitUntilExit()
        #expect(recorder.terminationStatus == 0)
        let check = try python("mcap_check.py", [bag])
        #expect(check.status == 0, "python rejected the finished file: \(check.stderr)")
        let info = try BagReader(path: bag).info()
        #expect(info.summary.indexed)
        #expect(info.summary.messageCount > 0)
        #expect(info.summary.chunkCompressions.keys.sorted() == ["lz4"])
        // One jsonschema schema per protocol type, named and written as ForesightWire defines it.
        let schemas = Array(info.summary.schemas.values)
        #expect(schemas.map(\.name) == [MessageType.gnssFix.name])
        #expect(schemas.map(\.encoding) == ["jsonschema"])
        #expect(schemas.first.map { String(decoding: $0.data, as: UTF8.self) } == MessageType.gnssFix.jsonSchema)
    }

    /// `foresight replay` → ZeroMQ → `foresight record`: payloads arrive byte for byte, in order;
    /// with `--restamp` the stamps (and so publish_time) move to the present.
    @Test(arguments: [false, true])
    func replayIsRecordedFaithfully(restamp: Bool) throws {
        let binary = try #require(foresightBinary, missingBinary)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("source.mcap").path
        let writer = try BagWriter(path: source)
        let channel = try writer.addChannel(topic: "sensor/gnss", messageEncoding: "msgpack", schemaID: 0)
        var payloads: [[UInt8]] = []
        let base: UInt64 = 1_700_000_000_000_000_000
        for i in 0..<60 {
            let payload = wirePayload(stamp: Int64(base) + Int64(i) * 5_000_000, seq: UInt32(i), blob: 50 + i)
            payloads.append(payload)
            try writer.write(channelID: channel, sequence: UInt32(i), logTime: base + UInt64(i) * 5_000_000,
                             publishTime: base + UInt64(i) * 5_000_000, data: payload)
        }
        try writer.finish()

        let port = freePort()
        let output = dir.appendingPathComponent("out.mcap").path
        let recorder = Process()
        recorder.executableURL = URL(fileURLWithPath: binary)
        recorder.arguments = ["record", "tcp://127.0.0.1:\(port)", "-o", output, "--duration", "30"]
        recorder.standardOutput = FileHandle.nullDevice
        recorder.standardError = FileHandle.nullDevice
        try recorder.run()
        defer { if recorder.isRunning { kill(recorder.processIdentifier, SIGKILL) }; recorder.waitUntilExit() }
        let before = Int64(realtimeNow())
        let replay = try run(binary, ["replay", source, "--endpoint", "tcp://127.0.0.1:\(port)", "--delay", "1.5"]
                                     + (restamp ? ["--restamp"] : []))
        #expect(replay.status == 0, "replay failed: \(replay.stderr)")
        // Give the last messages time to cross the (possibly busy) machine before stopping.
        Thread.sleep(forTimeInterval: 1.5)
        kill(recorder.processIdentifier, SIGINT)
        recorder.waitUntilExit()
        #expect(recorder.terminationStatus == 0)

        let cursor = try BagReader(path: output).messages()
        var got: [BagEntry] = []
        while let entry = try cursor.next() { got.append(entry) }
        #expect(got.count == 60)
        if restamp {
            for (entry, original) in zip(got, payloads) {
                #expect(PayloadHeader.peek(entry.message.data)?.seq == PayloadHeader.peek(original)?.seq)
                #expect(Int64(entry.message.publishTime) >= before)
                #expect(entry.message.data.count == original.count)
            }
        } else {
            #expect(got.map(\.message.data) == payloads)
            #expect(got.map(\.message.publishTime) == (0..<60).map { base + UInt64($0) * 5_000_000 })
        }
    }
}
