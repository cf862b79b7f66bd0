import Foundation
import Testing
@testable import ForesightBag

/// The command line as a newcomer meets it (issue 17): no silent data loss, errors that say what
/// is wrong, split recordings, units, `bag filter|cat` and `echo` on a bag — each through the
/// real `foresight` executable.
@Suite(.serialized) struct CommandLineTests {
    let binary: String
    let dir: URL

    init() throws {
        binary = try #require(foresightBinary, missingBinary)
        dir = temporaryDirectory()
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A small bag: `count` messages alternating over two topics, 10 ms apart.
    @discardableResult
    func writeBag(_ name: String, count: Int = 40, start: Int = 0, topics: [String] = ["sensor/gnss", "sensor/camera"]) throws -> [BagMessage] {
        let writer = try BagWriter(path: path(name), options: BagWriterOptions(chunkSize: 2048))
        var written: [BagMessage] = []
        let base: UInt64 = 1_700_000_000_000_000_000
        for i in start..<(start + count) {
            let topic = topics[i % topics.count]
            let schema = try writer.addSchema(name: "foresight.\(topic)", encoding: "jsonschema", data: Array("{}".utf8))
            let channel = try writer.addChannel(topic: topic, messageEncoding: "msgpack", schemaID: schema)
            let t = base + UInt64(i) * 10_000_000
            let data = wirePayload(stamp: Int64(t), seq: UInt32(i), blob: 40 + i % 7)
            try writer.write(channelID: channel, sequence: UInt32(i), logTime: t, publishTime: t, data: data)
            written.append(BagMessage(channelID: channel, sequence: UInt32(i), logTime: t, publishTime: t, data: data))
        }
        try writer.finish()
        return written
    }

    func foresight(_ arguments: [String]) throws -> ProcessResult { try run(binary, arguments) }

    func messages(_ file: String) throws -> [BagEntry] {
        let cursor = try BagRecording(path: file).messages()
        var out: [BagEntry] = []
        while let entry = try cursor.next() { out.append(entry) }
        return out
    }

    // MARK: data loss and silent success

    @Test func recordRefusesToOverwriteUnlessAsked() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeBag("drive.mcap")
        let before = try Data(contentsOf: URL(fileURLWithPath: path("drive.mcap")))
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let refused = try foresight(["record", endpoint, "-o", path("drive.mcap"), "--duration", "1"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("already exists") && refused.stderr.contains("--overwrite"), "\(refused.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path("drive.mcap"))) == before)
        // A split recording refuses when its numbered files exist.
        try writeBag("split_0000.mcap")
        let split = try foresight(["record", endpoint, "-o", path("split.mcap"), "--split-size", "1M", "--duration", "1"])
        #expect(split.status != 0 && split.stderr.contains("split_0000.mcap already exists"), "\(split.stderr)")
        // With --overwrite the old split set goes entirely (no stale split_0001 read back later).
        try writeBag("split_0001.mcap")
        let resplit = try foresight(["record", endpoint, "-o", path("split.mcap"), "--split-size", "4G", "--duration", "500ms", "--overwrite"])
        #expect(resplit.status == 0, "\(resplit.stderr)")
        #expect(BagRecording.splitSet(of: path("split.mcap")).map { URL(fileURLWithPath: $0).lastPathComponent } == ["split_0000.mcap"])
        #expect(try BagReader(path: path("split_0000.mcap")).info().summary.messageCount == 0)
        // With --overwrite it records (units: 1500ms).
        let replaced = try foresight(["record", endpoint, "-o", path("drive.mcap"), "--duration", "1500ms", "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(try BagReader(path: path("drive.mcap")).info().summary.messageCount == 0)
    }

    /// A bag whose writer stopped exactly between two records (SIGKILL of the recorder, not a cut
    /// in the middle of a record) is reported as not closed by bag info and replay.
    @Test func unclosedBagIsReported() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeBag("full.mcap", count: 200)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("full.mcap")))
        // Walk the records to the data end and keep everything before it.
        var offset = 8
        while offset + 9 <= bytes.count, bytes[offset] != 0x0F {
            let length = (0..<8).reduce(0) { $0 | Int(bytes[offset + 1 + $1]) << (8 * $1) }
            offset += 9 + length
        }
        try bytes.prefix(offset).write(to: URL(fileURLWithPath: path("killed.mcap")))
        #expect(try BagReader(path: path("killed.mcap")).isClosed == false)
        #expect(try BagReader(path: path("full.mcap")).isClosed)
        let info = try foresight(["bag", "info", path("killed.mcap")])
        #expect(info.status == 0)
        #expect(info.stderr.contains("was not closed (crash?)") && info.stderr.contains("foresight bag recover"), "\(info.stderr)")
        #expect(String(decoding: info.stdout, as: UTF8.self).contains("messages:    200"))
        let healthy = try foresight(["bag", "info", path("full.mcap")])
        #expect(!healthy.stderr.contains("not closed") && !healthy.stderr.contains("warning"))
        // A damaged summary (flipped byte): read by a scan, with a warning, not refused.
        var damaged = bytes
        damaged[damaged.count - 8 - 29 - 30] ^= 0x01
        try damaged.write(to: URL(fileURLWithPath: path("damaged.mcap")))
        let scanned = try foresight(["bag", "info", path("damaged.mcap")])
        #expect(scanned.status == 0, "\(scanned.stderr)")
        #expect(scanned.stderr.contains("summary of") && scanned.stderr.contains("is damaged") && scanned.stderr.contains("bag recover"),
                "\(scanned.stderr)")
        #expect(String(decoding: scanned.stdout, as: UTF8.self).contains("messages:    200"))
        let echoed = try foresight(["echo", path("damaged.mcap"), "--json"])
        #expect(String(decoding: echoed.stdout, as: UTF8.self).split(separator: "\n").count == 200)
    }

    @Test func replayRejectsContradictionsAndOffsetsPastTheEnd() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeBag("short.mcap")  // 0.39 s
        let endpoint = "tcp://127.0.0.1:\(freePort())"
        let past = try foresight(["replay", path("short.mcap"), "--start-offset", "5", "--delay", "0", "--endpoint", endpoint])
        #expect(past.status != 0 && past.stderr.contains("past the end"), "\(past.stderr)")
        let both = try foresight(["replay", path("short.mcap"), "--as-fast-as-possible", "--rate", "2", "--endpoint", endpoint])
        #expect(both.status != 0 && both.stderr.contains("contradict"), "\(both.stderr)")
        let negative = try foresight(["replay", path("short.mcap"), "--start-offset", "-2", "--endpoint", endpoint])
        #expect(negative.status != 0 && negative.stderr.contains("--start-offset must not be negative"), "\(negative.stderr)")
        let fine = try foresight(["replay", path("short.mcap"), "--start-offset", "100ms", "--as-fast-as-possible", "--delay", "0", "--endpoint", endpoint])
        #expect(fine.status == 0 && fine.stderr.contains("published 30 messages"), "\(fine.stderr)")
    }

    @Test func badArgumentsAreRejectedWithTheReason() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        // An invalid port fails at once instead of waiting forever.
        let start = Date()
        let echo = try foresight(["echo", "tcp://127.0.0.1:99999"])
        #expect(echo.status != 0 && echo.stderr.contains("99999") && echo.stderr.contains("1–65535"), "\(echo.stderr)")
        #expect(Date().timeIntervalSince(start) < 20)
        let level = try foresight(["run", "launch.yaml", "--log-level", "loud"])
        #expect(level.status != 0 && level.stderr.contains("loud") && level.stderr.contains("critical"), "\(level.stderr)")
        // Negative numbers reach the command's check (not "Missing value").
        let duration = try foresight(["record", "tcp://127.0.0.1:5", "-o", path("x.mcap"), "--duration", "-5"])
        #expect(duration.stderr.contains("--duration must be positive"), "\(duration.stderr)")
        let index = try foresight(["preprocess", path("x.mcap"), "--index", "-1", "--out", path("frame")])
        #expect(index.stderr.contains("--index must not be negative"), "\(index.stderr)")
        for result in [duration, index] { #expect(result.status != 0 && !result.stderr.contains("Missing value")) }
        // A negative seed is a valid seed.
        let sim = try foresight(["sim", "--seed", "-3", "--duration", "0.3", "--bag", path("seed.mcap"), "--quiet",
                                 "--site", packageRoot.appendingPathComponent("Calibration/sim-site.yaml").path,
                                 "--scenario", packageRoot.appendingPathComponent("launch/scenarios/street.yaml").path])
        #expect(sim.status == 0, "\(sim.stderr)")
        // Units: 4k is 4000 bytes (below the 4096 minimum), 1m30s parses.
        let size = try foresight(["record", "tcp://127.0.0.1:5", "-o", path("y.mcap"), "--split-size", "4k", "--duration", "1m30s"])
        #expect(size.status != 0 && size.stderr.contains("got 4000"), "\(size.stderr)")
        let units = try foresight(["record", "tcp://127.0.0.1:5", "-o", path("u.mcap"), "--split-duration", "1h30m",
                                   "--duration", "0.2s", "--chunk-size", "64KiB", "--buffer-size", "1GiB"])
        #expect(units.status == 0 && FileManager.default.fileExists(atPath: path("u_0000.mcap")), "\(units.stderr)")
        let word = try foresight(["record", "tcp://127.0.0.1:5", "-o", path("y.mcap"), "--duration", "soon"])
        #expect(word.status != 0 && word.stderr.contains("soon"), "\(word.stderr)")
    }

    // MARK: split recordings

    @Test func splitSetReadsAsOneRecording() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try writeBag("drive_0000.mcap", count: 30, start: 0)
        let second = try writeBag("drive_0001.mcap", count: 30, start: 30)
        let info = try foresight(["bag", "info", "--json", path("drive.mcap")])
        #expect(info.status == 0, "\(info.stderr)")
        #expect(info.stderr.contains("drive.mcap does not exist") && info.stderr.contains("drive_0000.mcap"), "\(info.stderr)")
        let json = try JSONSerialization.jsonObject(with: info.stdout) as? [String: Any]
        #expect((json?["messages"] as? NSNumber)?.intValue == 60)
        #expect((json?["files"] as? [String])?.count == 2)
        let counts = (json?["topics"] as? [[String: Any]])?.compactMap { ($0["count"] as? NSNumber)?.intValue }
        #expect(counts == [30, 30])
        // The folder works too, and the messages come out in log-time order across files.
        let viaFolder = try messages(dir.path)
        #expect(viaFolder.map(\.message.data) == (first + second).map(\.data))
        let player = try BagPlayer(path: path("drive.mcap"), options: BagReplayOptions(asFastAsPossible: true))
        var published: [[UInt8]] = []
        _ = try player.run { _, payload in published.append(payload) }
        #expect(published == (first + second).map(\.data))
        // One member alone is read alone, with a pointer to the whole set.
        let member = try foresight(["bag", "info", path("drive_0001.mcap")])
        #expect(member.status == 0 && member.stderr.contains("one file of a split set of 2"), "\(member.stderr)")
        #expect(String(decoding: member.stdout, as: UTF8.self).contains("messages:    30"))
        // A name with neither a file nor a split set says what it looked for.
        let missing = try foresight(["bag", "info", path("nothing.mcap")])
        #expect(missing.status != 0 && missing.stderr.contains("nothing_0000.mcap"), "\(missing.stderr)")
    }

    // MARK: bag filter and cat

    @Test func filterAndCatWriteProperBags() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let all = try writeBag("drive.mcap", count: 100)
        let filtered = try foresight(["bag", "filter", path("drive.mcap"), "-o", path("gnss.mcap"), "--topics", "gnss$",
                                      "--start-offset", "200ms", "--duration", "0.3"])
        #expect(filtered.status == 0, "\(filtered.stderr)")
        let base: UInt64 = 1_700_000_000_000_000_000
        let want = all.filter { $0.sequence % 2 == 0 && $0.logTime >= base + 200_000_000 && $0.logTime < base + 500_000_000 }
        let got = try messages(path("gnss.mcap"))
        #expect(got.map(\.message.data) == want.map(\.data))
        #expect(got.allSatisfy { $0.channel.topic == "sensor/gnss" })
        let info = try BagReader(path: path("gnss.mcap")).info()
        #expect(info.summary.indexed && info.summary.chunkCount > 0)
        #expect(info.summary.schemas.values.map(\.name) == ["foresight.sensor/gnss"])
        let check = try python("mcap_check.py", [path("gnss.mcap")])
        #expect(check.status == 0, "the Python reader rejected the filtered bag: \(check.stderr)")

        // cat joins pieces back (inputs in any order) into the original stream.
        _ = try foresight(["bag", "filter", path("drive.mcap"), "-o", path("a.mcap"), "--end-offset", "0.5"])
        _ = try foresight(["bag", "filter", path("drive.mcap"), "-o", path("b.mcap"), "--start-offset", "0.50001"])
        let cat = try foresight(["bag", "cat", path("b.mcap"), path("a.mcap"), "-o", path("joined.mcap"), "--compression", "lz4"])
        #expect(cat.status == 0, "\(cat.stderr)")
        #expect(try messages(path("joined.mcap")).map(\.message.data) == all.map(\.data))
        #expect(try BagReader(path: path("joined.mcap")).info().summary.chunkCompressions.keys.sorted() == ["lz4"])
        #expect(try python("mcap_check.py", [path("joined.mcap")]).status == 0)

        // Never overwrites without --overwrite, and never its own input.
        let again = try foresight(["bag", "cat", path("a.mcap"), "-o", path("joined.mcap")])
        #expect(again.status != 0 && again.stderr.contains("--overwrite"), "\(again.stderr)")
        let own = try foresight(["bag", "filter", path("a.mcap"), "-o", path("a.mcap"), "--overwrite"])
        #expect(own.status != 0 && own.stderr.contains("one of the inputs"), "\(own.stderr)")
        #expect(try messages(path("a.mcap")).count == 51)
    }

    // MARK: echo on a bag

    @Test func echoReadsABag() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeBag("drive.mcap", count: 20)
        let echo = try foresight(["echo", path("drive.mcap"), "--topic", "sensor/gnss", "--count", "3", "--json"])
        #expect(echo.status == 0, "\(echo.stderr)")
        let lines = String(decoding: echo.stdout, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 3)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["topic"] as? String == "sensor/gnss")
        }
        let missing = try foresight(["echo", path("absent.mcap")])
        #expect(missing.status != 0 && missing.stderr.contains("absent.mcap"), "\(missing.stderr)")
    }

    // MARK: the daemon's commands

    /// A short simulated drive with truth, written by `foresight sim --bag`.
    func simulatedDrive(_ name: String, seconds: String = "2") throws -> String {
        let result = try foresight(["sim", "--bag", path(name), "--duration", seconds, "--quiet",
                                    "--site", packageRoot.appendingPathComponent("Calibration/sim-site.yaml").path,
                                    "--scenario", packageRoot.appendingPathComponent("launch/scenarios/street.yaml").path])
        #expect(result.status == 0, "sim --bag failed: \(result.stderr)")
        return path(name)
    }

    @Test func evalFailsWhenThereIsNothingToScore() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let drive = try simulatedDrive("drive.mcap", seconds: "1.2")
        let launch = packageRoot.appendingPathComponent("launch/sim.yaml").path
        let scored = try foresight(["eval", drive, "--launch", launch])
        #expect(scored.status == 0, "\(scored.stderr)")
        let frames = String(decoding: scored.stdout, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""

        // No truth in the bag.
        let cut = try foresight(["bag", "filter", drive, "-o", path("notruth.mcap"), "--exclude", "^truth/"])
        #expect(cut.status == 0, "\(cut.stderr)")
        let noTruth = try foresight(["eval", path("notruth.mcap"), "--launch", launch])
        #expect(noTruth.status != 0)
        #expect(noTruth.stderr.contains("nothing to score") && noTruth.stderr.contains("expected truth:  truth/ue")
                && noTruth.stderr.contains("the bag has:") && noTruth.stderr.contains("sensor/camera ("), "\(noTruth.stderr)")

        // A prefix the bag does not use: 0 messages would be read.
        let yaml = try String(contentsOfFile: launch, encoding: .utf8)
            .replacingOccurrences(of: "prefix: \"\"", with: "prefix: \"bs1/\"")
            .replacingOccurrences(of: "../Calibration/sim-site.yaml", with: packageRoot.appendingPathComponent("Calibration/sim-site.yaml").path)
        try yaml.write(toFile: path("bs1.yaml"), atomically: true, encoding: .utf8)
        let prefixed = try foresight(["eval", drive, "--launch", path("bs1.yaml")])
        #expect(prefixed.status != 0)
        #expect(prefixed.stderr.contains("expected inputs: bs1/sensor/camera") && prefixed.stderr.contains("lack the prefix 'bs1/'"),
                "\(prefixed.stderr)")

        // The same drive as a split set scores the same frames.
        _ = try foresight(["bag", "filter", drive, "-o", path("split_0000.mcap"), "--end-offset", "0.6"])
        _ = try foresight(["bag", "filter", drive, "-o", path("split_0001.mcap"), "--start-offset", "0.600000001"])
        let split = try foresight(["eval", path("split.mcap"), "--launch", launch])
        #expect(split.status == 0, "\(split.stderr)")
        let splitFrames = String(decoding: split.stdout, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        // "evaluated PATH: N messages, M frames (…)": everything after the path must agree.
        func counts(_ line: String) -> String { line.components(separatedBy: ": ").dropFirst().joined().components(separatedBy: " in ").first ?? "" }
        #expect(!counts(frames).isEmpty && counts(splitFrames) == counts(frames), "\(frames) vs \(splitFrames)")
    }

    @Test func runWarnsWhenAnInputWasNeverHeard() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = """
        name: silent
        site: \(packageRoot.appendingPathComponent("Calibration/sim-site.yaml").path)
        inputs:
          endpoints: [tcp://127.0.0.1:\(freePort())]
        output:
          endpoint: tcp://127.0.0.1:\(freePort())
        metrics:
          address: 127.0.0.1:\(freePort())
        log_level: warning
        """
        try yaml.write(toFile: path("silent.yaml"), atomically: true, encoding: .utf8)
        let result = try foresight(["run", path("silent.yaml"), "--duration", "4500ms"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("no message received after 3 s on any input topic")
                && result.stderr.contains("sensor/camera") && result.stderr.contains("is a publisher running"), "\(result.stderr)")
    }
}
