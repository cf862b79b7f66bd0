import Foundation
import Testing
import ForesightTestSupport
import ForesightBus
@testable import ForesightDaemon
import ForesightWire

/// A finished command: exit status and what it printed.
struct CommandOutput {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the built `foresight` from `directory` (not the repository) and captures its output.
func runForesight(_ arguments: [String], in directory: URL? = nil, stdin: Data? = nil) throws -> CommandOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: TestSupport.foresightBinary)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let errData = Locked(Data())
    let reader = Thread { errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() } }
    reader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !reader.isFinished { Thread.sleep(forTimeInterval: 0.001) }
    return CommandOutput(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                              stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
}

/// A launch file for the operations tests: free ports, a large input buffer when asked.
func operationsLaunch(buffer: Int = 256, metrics: Int, input: Int, output: Int) throws -> String {
    let dir = try TestSupport.temporaryDirectory("ops")
    let path = dir.appendingPathComponent("launch.yaml").path
    try """
    name: ops
    site: \(TestSupport.path("Calibration/sim-site.yaml"))
    inputs:
      endpoints: [tcp://127.0.0.1:\(input)]
      buffer: \(buffer)
    sync:
      max_interval_ms: 100
      deadline_ms: 200
      inter_message_lower_bound_ms: 85
    output:
      endpoint: tcp://127.0.0.1:\(output)
      diagnostics_period_ms: 250
    metrics:
      address: 127.0.0.1:\(metrics)
    log_level: warning
    """.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Opens a TCP connection to 127.0.0.1:`port` and optionally sends `bytes`; returns the socket.
func openSlowClient(port: Int, sending bytes: String = "") -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    if connected == 0, !bytes.isEmpty { _ = bytes.withCString { write(fd, $0, strlen($0)) } }
    return fd
}

/// Fetches `url` with Python (timeout 5 s) and returns status and body, or the error.
func httpGet(_ url: String) throws -> (status: Int, body: String) {
    let out = try TestSupport.run(TestSupport.python, ["-c", """
        import sys, urllib.request, urllib.error
        try:
            r = urllib.request.urlopen(sys.argv[1], timeout=5); print(r.status); sys.stdout.write(r.read().decode())
        except urllib.error.HTTPError as e:
            print(e.code); sys.stdout.write(e.read().decode())
        """, url])
    guard out.status == 0, let newline = out.stdout.firstIndex(of: "\n"), let status = Int(out.stdout[..<newline]) else {
        return (-1, out.stderr)
    }
    return (status, String(out.stdout[out.stdout.index(after: newline)...]))
}

@Suite(.serialized) struct OperationsTests {
    @Test func metricsParseAsPrometheusTextAndASlowClientBlocksNothing() async throws {
        let metricsPort = TestSupport.freePort(), input = TestSupport.freePort(), output = TestSupport.freePort()
        let launch = try operationsLaunch(metrics: metricsPort, input: input, output: output)
        let daemon = try TestSupport.Child(TestSupport.foresightBinary, ["run", launch])
        defer { daemon.stop() }
        // Wait until the metrics endpoint answers.
        var ready = false
        for _ in 0..<100 where !ready {
            ready = (try? httpGet("http://127.0.0.1:\(metricsPort)/healthz").status) ?? -1 > 0
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready, "the metrics endpoint never answered")
        // Two slow clients: one sends nothing, one half a request; neither may block the others.
        let silent = openSlowClient(port: metricsPort)
        let partial = openSlowClient(port: metricsPort, sending: "GET /metr")
        defer { close(silent); close(partial) }
        let sim = try TestSupport.run(TestSupport.foresightBinary, ["sim", "--endpoint", "tcp://127.0.0.1:\(input)", "--duration", "3", "--quiet"])
        #expect(sim.status == 0, "\(sim.stderr)")

        let health = try httpGet("http://127.0.0.1:\(metricsPort)/healthz")
        #expect(health.status == 200 || health.status == 503, "\(health)")
        #expect(health.body.hasSuffix("\n") && health.body.contains("\"status\""), "\(health.body)")
        // Parse the exposition with the reference Python client's parser.
        let parsed = try TestSupport.run(TestSupport.python, ["-c", """
            import json, sys, urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
            fams = []
            for f in text_string_to_metric_families(text):
                fams.append({"name": f.name, "type": f.type, "help": f.documentation,
                             "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
            print(json.dumps(fams))
            """, "http://127.0.0.1:\(metricsPort)/metrics"])
        #expect(parsed.status == 0, "\(parsed.stderr)")
        let families = try #require(try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [[String: Any]])
        let names = families.compactMap { $0["name"] as? String }
        // Each family is one group: a name that came back twice was interleaved with another.
        #expect(Set(names).count == names.count, "families split into several groups: \(names)")
        for family in families {
            let help = family["help"] as? String ?? ""
            #expect(!help.isEmpty && !help.hasPrefix("Pipeline counter"), "family \(family["name"] ?? "?") has help '\(help)'")
        }
        func samples(_ name: String) -> [[String: Any]] {
            families.first { $0["name"] as? String == name }?["samples"] as? [[String: Any]] ?? []
        }
        // Topic and reason are labels; every stage has its queue depth and drop counter.
        let received = samples("foresight_messages_received")
        #expect(received.contains { ($0["labels"] as? [String: String])?["topic"] == "sensor/gnss" && ($0["value"] as? Double ?? 0) > 10 },
                "\(received)")
        let stages = Set(samples("foresight_stage_queue_depth").compactMap { ($0["labels"] as? [String: String])?["stage"] })
        #expect(stages.isSuperset(of: ["sync", "preprocess", "predict"]), "\(stages)")
        #expect(!samples("foresight_stage_dropped").isEmpty)
        #expect((samples("foresight_frames").first?["value"] as? Double ?? 0) > 10)
        #expect(names.allSatisfy { !$0.contains("sensor") }, "topic names leaked into metric names: \(names)")

        // Shutdown is not held up by the slow clients.
        daemon.process.terminate()
        #expect(daemon.wait(timeout: 15) == 0)
    }

    @Test func wireRejectionsAreLabelledByTopicAndReason() async throws {
        let metricsPort = TestSupport.freePort(), input = TestSupport.freePort(), output = TestSupport.freePort()
        let launch = try operationsLaunch(metrics: metricsPort, input: input, output: output)
        let daemon = try TestSupport.Child(TestSupport.foresightBinary, ["run", launch])
        defer { daemon.stop() }
        var options = Publisher.Options()
        options.mode = .bind
        let publisher = try Publisher(context: try BusContext(), endpoint: "tcp://127.0.0.1:\(input)", options: options)
        defer { publisher.close() }
        try await Task.sleep(for: .seconds(1))
        for _ in 0..<5 { publisher.send(topic: "sensor/gnss", payload: [0xc1, 0x00]) }  // not MessagePack
        try await Task.sleep(for: .milliseconds(700))
        let metrics = try httpGet("http://127.0.0.1:\(metricsPort)/metrics")
        let line = metrics.body.split(separator: "\n").first { $0.hasPrefix("foresight_wire_rejected_total{") && $0.contains("topic=\"sensor/gnss\"") }
        #expect(line != nil, "\(metrics.body)")
        #expect(line?.contains("reason=\"") == true)
        #expect(line.map { $0.hasSuffix(" 5") || $0.hasSuffix(" 5.0") } == true, "\(line ?? "")")
        daemon.process.terminate()
        #expect(daemon.wait(timeout: 15) == 0)
    }

    @Test func twoQuickSignalsStopTheRealDaemonCleanly() async throws {
        let metricsPort = TestSupport.freePort(), input = TestSupport.freePort(), output = TestSupport.freePort()
        let launch = try operationsLaunch(metrics: metricsPort, input: input, output: output)
        let daemon = try TestSupport.Child(TestSupport.foresightBinary, ["run", launch, "--shutdown-grace", "30"])
        defer { daemon.stop() }
        var up = false
        for _ in 0..<100 where !up {
            up = (try? httpGet("http://127.0.0.1:\(metricsPort)/healthz").status) ?? -1 > 0
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(up)
        kill(daemon.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(50))
        kill(daemon.process.processIdentifier, SIGINT)
        #expect(daemon.wait(timeout: 15) == 0, "the daemon did not stop after SIGTERM then SIGINT")
    }

    @Test func simEvalAndPreprocessWorkFromAnyFolder() throws {
        let dir = try TestSupport.temporaryDirectory("anywhere")
        defer { try? FileManager.default.removeItem(at: dir) }
        let sim = try runForesight(["sim", "--bag", "drive.mcap", "--duration", "3", "--compression", "lz4"], in: dir)
        #expect(sim.status == 0, "\(sim.stderr)")
        #expect(sim.stderr.contains("using the built-in site calibration Calibration/sim-site.yaml"), "\(sim.stderr)")
        #expect(sim.stderr.contains("using the built-in scenario launch/scenarios/street.yaml"), "\(sim.stderr)")
        // The size is announced before and reported after.
        #expect(sim.stderr.contains("about ") && sim.stderr.contains(" MB"), "\(sim.stderr)")
        // docs/simulator.md's LiDAR figure ("about N k points per revolution") holds.
        let doc = try String(contentsOfFile: TestSupport.path("docs/simulator.md"), encoding: .utf8)
        let stated = doc.range(of: #"about [0-9.]+ k points per revolution"#, options: .regularExpression)
            .flatMap { Double(doc[$0].split(separator: " ")[1]) }
        let points = try TestSupport.run(TestSupport.python, ["-c", """
            import sys, msgpack
            from mcap.reader import make_reader
            counts = [msgpack.unpackb(m.data)["count"] for _, _, m in make_reader(open(sys.argv[1], "rb")).iter_messages(topics=["sensor/lidar"])]
            print(sum(counts) / len(counts))
            """, dir.appendingPathComponent("drive.mcap").path])
        let measured = Double(points.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(stated != nil, "docs/simulator.md no longer states the LiDAR point count")
        #expect(abs(measured / 1000 - (stated ?? 0)) <= 0.05 * (stated ?? 0), "LiDAR: docs say \(stated ?? 0) k points, measured \(measured)")
        let eval = try runForesight(["eval", "drive.mcap", "--json", "-"], in: dir)
        #expect(eval.status == 0, "\(eval.stderr)")
        #expect(eval.stderr.contains("using the built-in launch file launch/sim.yaml"), "\(eval.stderr)")
        // --json - puts the JSON alone on standard output, with plain slashes and a final newline.
        #expect(eval.stdout.hasSuffix("}\n"), "\(eval.stdout.suffix(80))")
        #expect(!eval.stdout.contains("\\/"))
        #expect((try? JSONSerialization.jsonObject(with: Data(eval.stdout.utf8))) != nil, "\(eval.stdout.prefix(300))")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("-").path))
        // docs/simulator.md: with launch/sim.yaml the simulated street gives complete frames
        // (partial ones only from the scenario's 1 % drops).
        let counts = eval.stderr.range(of: #"([0-9]+) frames \(([0-9]+) partial\)"#, options: .regularExpression)
            .map { eval.stderr[$0].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) } } ?? []
        #expect(counts.count == 2 && counts[0] >= 20 && counts[1] * 10 <= counts[0], "\(eval.stderr)")
        let pre = try runForesight(["preprocess", "drive.mcap", "--index", "3", "--out", "frame"], in: dir)
        #expect(pre.status == 0, "\(pre.stderr)")
        let frameJSON = try String(contentsOf: dir.appendingPathComponent("frame/frame.json"), encoding: .utf8)
        #expect(frameJSON.hasSuffix("}\n") && frameJSON.contains("\"sensor/gnss\"") && !frameJSON.contains("\\/"), "\(frameJSON)")
    }

    @Test func outputPathsAreCheckedBeforeTheWork() throws {
        let dir = try TestSupport.temporaryDirectory("paths")
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("missing/s.json").path
        let eval = try runForesight(["eval", "no-such-bag.mcap", "--json", missing], in: dir)
        #expect(eval.status != 0)
        // The output folder is named, before the bag is even opened.
        #expect(eval.stderr.contains("the folder \(dir.appendingPathComponent("missing").path) does not exist"), "\(eval.stderr)")
        #expect(!eval.stderr.contains("NSCocoaErrorDomain") && !eval.stderr.contains("no-such-bag"), "\(eval.stderr)")
        let file = dir.appendingPathComponent("existing").path
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        let pre = try runForesight(["preprocess", "no-such-bag.mcap", "--index", "0", "--out", file], in: dir)
        #expect(pre.status != 0)
        #expect(pre.stderr.contains("is an existing file, not a folder"), "\(pre.stderr)")
        #expect(!pre.stderr.contains("NSCocoaErrorDomain"))
    }

    @Test func launchFileErrorsPointToTheFix() throws {
        let dir = try TestSupport.temporaryDirectory("launch-errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        func check(_ name: String, _ yaml: String) throws -> String {
            let path = dir.appendingPathComponent(name).path
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            let out = try runForesight(["run", path], in: dir)
            #expect(out.status != 0)
            return out.stderr
        }
        let site = TestSupport.path("Calibration/sim-site.yaml")
        let typo = try check("typo.yaml", "site: \(site)\ninput:\n  endpoints: [tcp://127.0.0.1:5600]\noutput: {endpoint: tcp://127.0.0.1:5601}\n")
        #expect(typo.contains("input: unknown key — did you mean `inputs`?"), "\(typo)")
        #expect(!typo.contains("calibration.md"), "\(typo)")
        let optional = try check("optional.yaml", "site: \(site)\ninputs:\n  endpoints: [tcp://127.0.0.1:5600]\noutput: {endpoint: tcp://127.0.0.1:5601}\nsyncc: {}\n")
        #expect(optional.contains("did you mean `sync`?") && optional.contains("docs/launch.md"), "\(optional)")
        let scheme = try check("scheme.yaml", "site: \(site)\ninputs:\n  endpoints: [127.0.0.1:5600]\noutput: {endpoint: tcp://127.0.0.1:5601}\n")
        #expect(scheme.contains("inputs.endpoints") && scheme.contains("tcp://127.0.0.1:5600"), "\(scheme)")
        let noSite = try check("nosite.yaml", "site: ../nowhere/site.yaml\ninputs:\n  endpoints: [tcp://127.0.0.1:5600]\noutput: {endpoint: tcp://127.0.0.1:5601}\n")
        #expect(noSite.contains("`site:`") && noSite.contains("relative to the launch file"), "\(noSite)")
        let badSitePath = dir.appendingPathComponent("bad-site.yaml").path
        try "site: x\norigin: {lat: 1, lon: 2}\n".write(toFile: badSitePath, atomically: true, encoding: .utf8)
        let badSite = try check("badsite.yaml", "site: bad-site.yaml\ninputs:\n  endpoints: [tcp://127.0.0.1:5600]\noutput: {endpoint: tcp://127.0.0.1:5601}\n")
        #expect(badSite.contains(badSitePath) && badSite.contains("docs/calibration.md"), "\(badSite)")
        let duplicate = try check("dup.yaml", "site: \(site)\nsite: \(site)\ninputs:\n  endpoints: [tcp://127.0.0.1:5600]\noutput: {endpoint: tcp://127.0.0.1:5601}\n")
        #expect(duplicate.contains("site") && duplicate.contains("duplicate"), "\(duplicate)")
        #expect(duplicate.split(separator: "\n").count <= 4, "the duplicate-key error dumps the file:\n\(duplicate)")
    }

    @Test func addressInUseNamesTheHolder() throws {
        let port = TestSupport.freePort()
        let holder = try TestSupport.Child(TestSupport.foresightBinary, ["sim", "--endpoint", "tcp://127.0.0.1:\(port)", "--duration", "30", "--quiet"])
        defer { holder.stop() }
        // Wait until the holder has bound the port (a debug build on a busy machine starts slowly).
        for _ in 0..<300 where PortOwner.holder(ofTCPPort: port)?.pid != holder.process.processIdentifier {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(PortOwner.holder(ofTCPPort: port)?.pid == holder.process.processIdentifier, "the holder never bound port \(port)")
        let second = try runForesight(["sim", "--endpoint", "tcp://127.0.0.1:\(port)", "--duration", "1", "--quiet"])
        #expect(second.status != 0)
        #expect(second.stderr.contains("pid \(holder.process.processIdentifier)") && second.stderr.contains("foresight sim"), "\(second.stderr)")
        #expect(second.stderr.contains("--endpoint") && !second.stderr.contains("use --connect"), "\(second.stderr)")
    }

    @Test func unknownSubcommandsSuggestTheRightOne() throws {
        let hz = try runForesight(["hz", "tcp://127.0.0.1:5600"])
        #expect(hz.status != 0)
        #expect(hz.stderr.contains("unknown subcommand `hz`, did you mean `foresight topic hz`?"), "\(hz.stderr)")
        let reccord = try runForesight(["reccord", "-o", "x.mcap"])
        #expect(reccord.stderr.contains("unknown subcommand `reccord`, did you mean `foresight record`?"), "\(reccord.stderr)")
        let ok = try runForesight(["topic", "--help"])
        #expect(ok.status == 0 && ok.stdout.contains("hz"))
    }

    @Test func echoAndTopicToolsOnALiveStream() async throws {
        let port = TestSupport.freePort()
        let endpoint = "tcp://127.0.0.1:\(port)"
        // Every sensor and a truth topic at 10 Hz, paced on absolute deadlines.
        var options = Publisher.Options()
        options.mode = .bind
        let publisher = try Publisher(context: try BusContext(), endpoint: endpoint, options: options)
        defer { publisher.close() }
        // On its own thread, not the cooperative pool: the foresight commands below are waited for
        // synchronously, and under a loaded test run they could otherwise starve the publisher.
        let stop = Locked(false)
        let feed = Thread {
            var i = 0
            let began = DispatchTime.now().uptimeNanoseconds
            while !stop.withLock({ $0 }) {
                let stamp = wallClockNanoseconds()
                for (topic, payload) in SyntheticSensors.messages(seq: UInt32(i), stamp: stamp) { publisher.send(topic: topic, payload: payload) }
                let truth = TruthUE(header: Header(stamp: stamp, seq: UInt32(i), frameID: "site"), east: 1, north: 2, velocityEast: 3,
                                    velocityNorth: 0, heading: 0)
                publisher.send(topic: "truth/ue", payload: truth.encoded())
                i += 1
                let next = began + UInt64(i) * 100_000_000
                let now = DispatchTime.now().uptimeNanoseconds
                if next > now { usleep(UInt32((next - now) / 1000)) }
            }
        }
        feed.start()
        defer { stop.withLock { $0 = true } }
        // echo: JSON with plain slashes and whole floats as floats; field selection; regex; --once.
        let echo = try runForesight(["echo", endpoint, "--topic-regex", "gnss$", "--json", "--once"])
        #expect(echo.status == 0, "\(echo.stderr)")
        let lines = echo.stdout.split(separator: "\n")
        #expect(lines.count == 1, "\(echo.stdout)")
        #expect(echo.stdout.contains("\"topic\": \"sensor/gnss\"") && !echo.stdout.contains("\\/"), "\(echo.stdout)")
        // Whole-valued floats stay floats (the fix's altitude is 360 m).
        #expect(echo.stdout.contains("\"alt\": 360.0"), "\(echo.stdout)")
        let fields = try runForesight(["echo", endpoint, "--topic", "sensor/gnss", "--field", "stamp,lat", "--count", "2"])
        #expect(fields.status == 0, "\(fields.stderr)")
        let fieldLines = fields.stdout.split(separator: "\n")
        #expect(fieldLines.count == 2 && fieldLines.allSatisfy { $0.hasPrefix("sensor/gnss stamp=") && $0.contains(" lat=") }, "\(fields.stdout)")
        let excluded = try runForesight(["echo", endpoint, "--exclude", "^sensor/", "--count", "3", "--json"])
        #expect(excluded.stdout.split(separator: "\n").allSatisfy { $0.contains("\"topic\": \"truth/") }, "\(excluded.stdout)")
        let full = try runForesight(["echo", endpoint, "--topic", "sensor/beam_power", "--once", "--full", "--json"])
        #expect(full.stdout.contains("\"values\": ["), "\(full.stdout.prefix(400))")
        // topic list / hz / bw.
        let list = try runForesight(["topic", "list", endpoint, "--duration", "1.5"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(Set(list.stdout.split(separator: "\n").map(String.init)).isSuperset(of: ["sensor/camera", "sensor/gnss", "truth/ue"]), "\(list.stdout)")
        let hz = try runForesight(["topic", "hz", endpoint, "--topic", "sensor/gnss", "--duration", "2.5"])
        #expect(hz.status == 0, "\(hz.stderr)")
        let final = hz.stdout.components(separatedBy: "-- final\n").last ?? ""
        let rate = final.range(of: #"average rate ([0-9.]+) Hz"#, options: .regularExpression).map { Double(final[$0].split(separator: " ")[2]) ?? 0 } ?? 0
        #expect(rate > 8 && rate < 12, "gnss is published at 10 Hz: \(hz.stdout)")
        #expect(final.contains("min ") && final.contains("max ") && final.contains("std dev "), "\(final)")
        let bw = try runForesight(["topic", "bw", endpoint, "--topic-regex", "camera", "--duration", "2.5"])
        #expect(bw.status == 0, "\(bw.stderr)")
        #expect(bw.stdout.contains("sensor/camera: ") && bw.stdout.contains("/s from ") && bw.stdout.contains("mean "), "\(bw.stdout)")
        #expect(!bw.stdout.contains("sensor/gnss"))
    }
}
