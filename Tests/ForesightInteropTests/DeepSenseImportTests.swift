import Foundation
import ForesightBag
import ForesightSite
import ForesightTestSupport
import ForesightWire
import Testing
@testable import ForesightInterop

/// Every message of a bag, decoded, per topic in log-time order.
func decodedMessages(_ path: String) throws -> [String: [(logTime: UInt64, message: any WireMessage)]] {
    let reader = try BagReader(path: path)
    let cursor = try reader.messages()
    var out: [String: [(UInt64, any WireMessage)]] = [:]
    while let entry = try cursor.next() {
        guard let type = MessageType.forTopic(entry.channel.topic) else { continue }
        out[entry.channel.topic, default: []].append((entry.message.logTime, try type.decode(entry.message.data, topic: entry.channel.topic)))
    }
    return out.mapValues { $0.map { (logTime: $0.0, message: $0.1) } }
}

/// Runs `Tools/make_deepsense_fixture.py` into a fresh folder.
func makeFixture(_ arguments: [String]) throws -> URL {
    let dir = try TestSupport.temporaryDirectory("deepsense")
    let result = try TestSupport.runPython("make_deepsense_fixture.py", [dir.path] + arguments)
    guard result.status == 0 else { throw InteropError.usage("fixture script failed: \(result.stderr)") }
    return dir
}

@Suite(.serialized) struct DeepSenseImportTests {
    static let pythonReady = FileManager.default.isExecutableFile(atPath: TestSupport.python)

    /// A synthetic scenario (two sequences, one NaN vector, one missing image) imports into the
    /// expected messages, counts its problems, writes a loadable site file and evaluates end to end.
    @Test(.enabled(if: pythonReady, "needs .venv (Tools/setup.sh)"))
    func syntheticScenarioImportsAndEvaluates() async throws {
        let dir = try makeFixture(["--samples", "30", "--sequences", "2", "--nan-sample", "5", "--missing", "7", "--points", "400"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let bag = dir.appendingPathComponent("drive.mcap").path
        let lines = Locked<[String]>([])
        let report = try DeepSenseImporter(options: DeepSenseImportOptions(scenarioDirectory: dir.path, outputPath: bag, date: "2022-04-11"),
                                           log: { line in lines.withLock { $0.append(line) } }).run()
        #expect(report.rows == 30)
        #expect(report.samples == 30)
        #expect(report.sequences == 2)
        #expect(report.skipped == ["camera: missing_file": 1])
        #expect(report.nanVectors == 1)
        #expect(report.nanEntries == 2)
        #expect(report.messages["sensor/camera"] == 29)
        for topic in ["sensor/radar", "sensor/lidar", "sensor/gnss", "sensor/beam_power", "truth/beam", "truth/ue"] {
            #expect(report.messages[topic] == 30, "\(topic)")
        }
        #expect(lines.current.contains { $0.contains("image_7.jpg") }, "the missing file is named: \(lines.current)")
        let siteFile = try #require(report.siteWritten)
        let site = try Site.load(path: siteFile)
        #expect(abs(site.origin.latitude - 33.4209) < 1e-6)
        #expect(site.radar.chirps == 250)
        #expect(try String(contentsOfFile: siteFile, encoding: .utf8).contains("GUESSED"))

        // Messages against what the fixture script says it wrote.
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("expected.json"))) as! [String: Any]
        let samples = expected["samples"] as! [[String: Any]]
        let day = try #require(DeepSenseTime.days("2022-04-11")) * 86_400_000_000_000
        let messages = try decodedMessages(bag)
        let beams = try #require(messages["truth/beam"])
        let power = try #require(messages["sensor/beam_power"])
        let ues = try #require(messages["truth/ue"])
        #expect(beams.count == samples.count)
        var previousSequence = -1
        for (i, s) in samples.enumerated() {
            let stamp = day + (s["time_of_day_us"] as! NSNumber).int64Value * 1000
            let beam = beams[i].message as! TruthBeam
            #expect(beam.header.stamp == stamp)
            #expect(beams[i].logTime == UInt64(stamp))
            #expect(beam.best == (s["best0"] as! Int))
            let sequence = s["seq_index"] as! Int
            if sequence != previousSequence { #expect(beam.header.seq == 0, "seq restarts with sequence \(sequence)") }
            previousSequence = sequence
            let vector = (power[i].message as! BeamPower).power
            let reference = s["power"] as! [Any]
            for (j, v) in reference.enumerated() {
                if let n = v as? NSNumber { #expect(vector[j] == Float(n.doubleValue)) } else { #expect(vector[j].isNaN) }
            }
            let ue = ues[i].message as! TruthUE
            let local = site.origin.toLocal(lat: (s["lat"] as! NSNumber).doubleValue, lon: (s["lon"] as! NSNumber).doubleValue)
            #expect(abs(ue.east - local.east) < 1e-3 && abs(ue.north - local.north) < 1e-3)
        }
        // The gap between the drives is a real gap (a minute), not squeezed out.
        let gap = zip(beams.dropFirst(), beams).map { $0.0.message.header.stamp - $0.1.message.header.stamp }.max() ?? 0
        #expect(gap > 59_000_000_000)

        // End to end: the daemon's offline evaluation runs on the imported bag with the generated site.
        let binary = TestSupport.foresightBinary
        guard FileManager.default.isExecutableFile(atPath: binary) else { return }
        let eval = try TestSupport.run(binary, ["eval", bag, "--site", siteFile, "--launch", TestSupport.path("launch/sim.yaml"), "--json", dir.appendingPathComponent("scores.json").path])
        #expect(eval.status == 0, "\(eval.stderr)")
        #expect(eval.stdout.contains("frames"))
        let scores = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("scores.json"))) as! [String: Any]
        let overall = (scores["predictors"] as? [[String: Any]])?.first?["overall"] as? [String: Any]
        #expect((overall?["predictions"] as? Int ?? 0) > 0, "\(scores)")
        let info = try TestSupport.run(binary, ["bag", "info", bag])
        #expect(info.status == 0 && info.stdout.contains("sensor/radar"))

        // … and it opens in Foxglove: the export (NaN altitudes and powers included) passes the schema check.
        let foxglove = dir.appendingPathComponent("drive-foxglove.mcap").path
        let export = try TestSupport.run(binary, ["bag", "export", bag, "-o", foxglove, "--foxglove", "--site", siteFile, "--keep-original"])
        #expect(export.status == 0, "\(export.stderr)")
        let check = try TestSupport.runPython("foxglove_check.py", [foxglove])
        #expect(check.status == 0, "\(check.stdout)")
        #expect(check.stdout.contains("\"encoding\": \"msgpack\""), "--keep-original copies the msgpack channels")
    }

    /// `--utc-offset -7` reads the time of day as UTC−7 (seven hours are added), and a row past
    /// midnight continues on the next day.
    @Test(.enabled(if: pythonReady, "needs .venv (Tools/setup.sh)"))
    func utcOffsetAndMidnight() throws {
        let dir = try makeFixture(["--samples", "3", "--sequences", "1", "--points", "20", "--chirps", "8"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let csvPath = dir.appendingPathComponent("scenario32.csv").path
        var rows = try String(contentsOfFile: csvPath, encoding: .utf8).split(separator: "\n").map(String.init)
        rows[1] = rows[1].replacingOccurrences(of: #"\['[0-9.-]+'\]"#, with: "['23-59-59.950000']", options: .regularExpression)
        rows[2] = rows[2].replacingOccurrences(of: #"\['[0-9.-]+'\]"#, with: "['00-00-00.042000']", options: .regularExpression)
        rows[3] = rows[3].replacingOccurrences(of: #"\['[0-9.-]+'\]"#, with: "['00-00-00.134000']", options: .regularExpression)
        try (rows.joined(separator: "\n") + "\n").write(toFile: csvPath, atomically: true, encoding: .utf8)
        let bag = dir.appendingPathComponent("tz.mcap").path
        let report = try DeepSenseImporter(options: DeepSenseImportOptions(scenarioDirectory: dir.path, outputPath: bag, date: "2022-04-11",
                                                                           utcOffsetHours: -7), log: { _ in }).run()
        #expect(report.totalSkipped == 0, "\(report.skipped)")
        let day = try #require(DeepSenseTime.days("2022-04-11")) * 86_400_000_000_000
        let stamps = try #require(try decodedMessages(bag)["truth/beam"]).map(\.message.header.stamp)
        let hour: Int64 = 3_600_000_000_000
        #expect(stamps == [day + 24 * hour - 50_000_000 + 7 * hour, day + 24 * hour + 42_000_000 + 7 * hour, day + 24 * hour + 134_000_000 + 7 * hour])
    }

    /// Broken input ends in named, counted skips — never a silent drop — and the rows around it import.
    @Test(.enabled(if: pythonReady, "needs .venv (Tools/setup.sh)"))
    func badInputIsCountedAndNamed() throws {
        let dir = try makeFixture(["--samples", "8", "--sequences", "1", "--points", "50", "--chirps", "16"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = dir.path
        // Row 2: corrupt .npy; row 3: broken .ply; row 4: bad time stamp; row 5: radar as a MAT v7.3 (HDF5) file;
        // row 6 repeated at the end (out of order); row 7: power with a negative value.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: root + "/unit1/radar_data/radar_data_2.npy"))
        try "ply\nformat ascii 1.0\nelement vertex 5\nproperty double x\nend_header\n1\n".write(toFile: root + "/unit1/lidar_data/lidar_data_3.ply", atomically: true, encoding: .utf8)
        try "1e-3\n-2e-3\n".write(toFile: root + "/unit1/mmWave_data/mmWave_power_7.txt", atomically: true, encoding: .utf8)
        var v73 = Array("MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Apr 11 10:12:35 2022 HDF5 schema 1.00 .".utf8)
        v73 += [UInt8](repeating: 0x20, count: 512 - v73.count) + [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 512)
        try Data(v73).write(to: URL(fileURLWithPath: root + "/unit1/radar_data/radar_data_5.mat"))
        let csvPath = root + "/scenario32.csv"
        var rows = try String(contentsOfFile: csvPath, encoding: .utf8).split(separator: "\n").map(String.init)
        rows[4] = rows[4].replacingOccurrences(of: #"\['[0-9.-]+'\]"#, with: "['25-99-00.0']", options: .regularExpression)
        rows[5] = rows[5].replacingOccurrences(of: "radar_data_5.npy", with: "radar_data_5.mat")
        rows.append(rows[6])
        try (rows.joined(separator: "\n") + "\n").write(toFile: csvPath, atomically: true, encoding: .utf8)
        let bag = root + "/bad.mcap"
        let report = try DeepSenseImporter(options: DeepSenseImportOptions(scenarioDirectory: root, outputPath: bag), log: { _ in }).run()
        #expect(report.rows == 9)
        #expect(report.samples == 7)
        #expect(report.skipped["radar: bad_npy"] == 1)
        #expect(report.skipped["lidar: bad_ply"] == 1)
        #expect(report.skipped["row: bad_time_stamp"] == 1)
        #expect(report.skipped["radar: mat_v73_hdf5"] == 1)
        #expect(report.skipped["row: out_of_order"] == 1)
        #expect(report.skipped["beam_power: bad_text"] == 1)
        #expect(report.totalSkipped == 6)
        #expect(report.messages["sensor/radar"] == 5)
        #expect(report.warnings.contains { $0.contains("default date") })
        _ = try decodedMessages(bag)  // every message written decodes

        // A folder without a CSV is a named error, not an empty bag.
        let empty = try TestSupport.temporaryDirectory("deepsense-empty")
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: InteropError.self) {
            try DeepSenseImporter(options: DeepSenseImportOptions(scenarioDirectory: empty.path, outputPath: empty.path + "/x.mcap"), log: { _ in }).run()
        }
    }

    /// A scenario whose radar cubes are MATLAB files (`scipy.io.savemat`, variable `data`,
    /// compressed and not, [4, 256, 128] like DeepSense's MATLAB scenarios) imports into the same
    /// radar messages, bit for bit, as the same scenario written with `.npy` cubes.
    @Test(.enabled(if: pythonReady, "needs .venv with scipy (Tools/setup.sh)"))
    func matRadarScenarioImportsLikeItsNpyTwin() throws {
        var radar: [String: [[UInt8]]] = [:]
        for format in ["npy", "mat", "mat-zlib"] {
            let dir = try makeFixture(["--samples", "12", "--sequences", "2", "--points", "60", "--chirps", "128", "--seed", "9",
                                       "--radar-format", format])
            defer { try? FileManager.default.removeItem(at: dir) }
            let csv = try String(contentsOfFile: dir.path + "/scenario32.csv", encoding: .utf8)
            #expect(csv.contains(format == "npy" ? "radar_data_1.npy" : "radar_data_1.mat"), "\(format): the CSV names the files")
            let bag = dir.appendingPathComponent("drive.mcap").path
            let report = try DeepSenseImporter(options: DeepSenseImportOptions(scenarioDirectory: dir.path, outputPath: bag, date: "2022-04-11"),
                                               log: { _ in }).run()
            #expect(report.totalSkipped == 0, "\(format): \(report.skipped)")
            #expect(report.messages["sensor/radar"] == 12, "\(format)")
            let cubes = try #require(try decodedMessages(bag)["sensor/radar"]).map { $0.message as! RadarCube }
            #expect(cubes.allSatisfy { $0.rx == 4 && $0.samples == 256 && $0.chirps == 128 && $0.dtype == .cf32 }, "\(format)")
            radar[format] = cubes.map { Array($0.data) }
            let siteFile = try #require(report.siteWritten)
            #expect(try Site.load(path: siteFile).radar.chirps == 128, "\(format): the site file has the cube's shape")
        }
        #expect(radar["mat"] == radar["npy"], "uncompressed .mat cubes differ from the .npy ones")
        #expect(radar["mat-zlib"] == radar["npy"], "compressed .mat cubes differ from the .npy ones")

        // A variable name that is not in the files: every radar file is a named, counted skip.
        let dir = try makeFixture(["--samples", "3", "--sequences", "1", "--points", "20", "--chirps", "16", "--radar-format", "mat"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let lines = Locked<[String]>([])
        let report = try DeepSenseImporter(options: DeepSenseImportOptions(scenarioDirectory: dir.path, outputPath: dir.path + "/x.mcap",
                                                                           radarVariable: "cube"),
                                           log: { line in lines.withLock { $0.append(line) } }).run()
        #expect(report.skipped == ["radar: bad_mat": 3])
        #expect(lines.current.contains { $0.contains("radar_data_1.mat") && $0.contains("'cube'") }, "\(lines.current)")
    }

    /// Simulator bag → `Tools/export_deepsense.py` (an independent writer of the layout) →
    /// import gives back the same messages: stamps to the microsecond, positions within 1 mm,
    /// beams 1-based ↔ 0-based, power vectors, images, cubes and clouds bit-identical.
    @Test(.enabled(if: pythonReady && FileManager.default.isExecutableFile(atPath: TestSupport.foresightBinary),
                   "needs .venv and the foresight executable"))
    func roundTripThroughTheDeepSenseLayout() throws {
        let dir = try TestSupport.temporaryDirectory("deepsense-roundtrip")
        defer { try? FileManager.default.removeItem(at: dir) }
        let simBag = try sharedAlignedBag.get()
        let folder = dir.appendingPathComponent("exported").path
        let sitePath = TestSupport.path("Calibration/sim-site.yaml")
        let export = try TestSupport.runPython("export_deepsense.py", [simBag, folder, "--site", sitePath])
        #expect(export.status == 0, "\(export.stderr)")
        let imported = dir.appendingPathComponent("imported.mcap").path
        let report = try DeepSenseImporter(options: DeepSenseImportOptions(scenarioDirectory: folder, outputPath: imported, sitePath: sitePath),
                                           log: { _ in }).run()
        #expect(report.totalSkipped == 0, "\(report.skipped)")
        let original = try decodedMessages(simBag), back = try decodedMessages(imported)
        let site = try Site.load(path: sitePath)
        for topic in ["sensor/camera", "sensor/radar", "sensor/lidar", "sensor/gnss", "sensor/beam_power", "truth/beam"] {
            let a = try #require(original[topic]), b = try #require(back[topic])
            #expect(a.count == b.count && a.count >= 15, "\(topic): \(a.count) vs \(b.count)")
            for (x, y) in zip(a, b) {
                #expect(abs(x.message.header.stamp - y.message.header.stamp) < 1000, "\(topic) stamp")
                #expect(x.message.header.seq == y.message.header.seq, "\(topic) seq")
                switch (x.message, y.message) {
                case let (p as Image, q as Image): #expect(p.data == q.data && p.width == q.width && p.height == q.height)
                case let (p as RadarCube, q as RadarCube): #expect(p.data == q.data && [p.rx, p.samples, p.chirps] == [q.rx, q.samples, q.chirps])
                case let (p as PointCloud, q as PointCloud): #expect(p.data == q.data && p.fields == q.fields)
                case let (p as BeamPower, q as BeamPower): #expect(p.power.map(\.bitPattern) == q.power.map(\.bitPattern))
                case let (p as TruthBeam, q as TruthBeam): #expect(p.best == q.best)
                case let (p as GnssFix, q as GnssFix):
                    let (u, v) = (site.origin.toLocal(lat: p.lat, lon: p.lon), site.origin.toLocal(lat: q.lat, lon: q.lon))
                    #expect(abs(u.east - v.east) < 1e-3 && abs(u.north - v.north) < 1e-3)
                default: Issue.record("unexpected message pair on \(topic)")
                }
            }
        }
        // truth/ue of the import is the GNSS position in the site frame.
        let gnss = try #require(original["sensor/gnss"]), ues = try #require(back["truth/ue"])
        #expect(gnss.count == ues.count)
        for (g, u) in zip(gnss, ues) {
            let fix = g.message as! GnssFix, ue = u.message as! TruthUE
            let p = site.origin.toLocal(lat: fix.lat, lon: fix.lon)
            #expect(abs(p.east - ue.east) < 1e-3 && abs(p.north - ue.north) < 1e-3)
        }
    }
}

/// One aligned simulator bag (2 s) shared by the tests that need one (the debug simulator is slow).
let sharedAlignedBag: Result<String, any Error> = Result {
    let dir = try TestSupport.temporaryDirectory("aligned-sim")
    return try alignedSimulatorBag(in: dir, seconds: 2.0)
}

/// A simulator bag whose five sensors share each sample's stamp (phase 0, no jitter, no drops,
/// no GNSS dropouts) — the shape of a DeepSense sample.
func alignedSimulatorBag(in dir: URL, seconds: Double) throws -> String {
    var scenario = try String(contentsOfFile: TestSupport.path("launch/scenarios/street.yaml"), encoding: .utf8)
    scenario = scenario.replacingOccurrences(of: #"phase_ms: *[0-9.]+, *jitter_ms: *[0-9.]+, *drop_probability: *[0-9.]+"#,
                                             with: "phase_ms: 0.0, jitter_ms: 0.0, drop_probability: 0.0", options: .regularExpression)
    scenario = scenario.replacingOccurrences(of: #"dropouts_per_minute: *[0-9.]+"#, with: "dropouts_per_minute: 0.0", options: .regularExpression)
    let scenarioPath = dir.appendingPathComponent("aligned.yaml").path
    try scenario.write(toFile: scenarioPath, atomically: true, encoding: .utf8)
    let bag = dir.appendingPathComponent("sim.mcap").path
    let sim = try TestSupport.run(TestSupport.foresightBinary, ["sim", "--scenario", scenarioPath, "--site", TestSupport.path("Calibration/sim-site.yaml"),
                                                                "--bag", bag, "--duration", String(seconds), "--quiet"])
    guard sim.status == 0 else { throw InteropError.usage("foresight sim failed: \(sim.stderr)") }
    return bag
}
