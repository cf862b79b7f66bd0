import Foundation
import ForesightBag
import ForesightSite
import ForesightWire

/// Settings of a DeepSense 6G scenario import (`foresight import deepsense`).
public struct DeepSenseImportOptions: Sendable {
    /// The scenario folder (holds the CSV; the CSV's paths are relative to it).
    public var scenarioDirectory: String
    /// The bag to write.
    public var outputPath: String
    /// The scenario CSV (default: the only `scenario*.csv`, or the only `.csv`, in the folder).
    public var csvPath: String?
    /// An existing site calibration to use (origin, frame ids); none: one is generated.
    public var sitePath: String?
    /// Where the generated site file goes (default: the output path with `.site.yaml`).
    public var siteOutputPath: String?
    /// The calendar date (`YYYY-MM-DD`) of the drive; default: a `date` column of the CSV, else `defaultDate`.
    public var date: String?
    /// Hours to subtract from the time of day to get UTC (DeepSense does not say the zone; 0 = read it as UTC).
    public var utcOffsetHours: Double
    /// Chunk compression of the bag (default none: the writer is the slower stage, and zstd
    /// costs ~5 ms per DeepSense sample).
    public var compression: BagCompression
    /// Topic prefix (e.g. `bs1/`).
    public var prefix: String
    /// Import at most this many rows (nil: all).
    public var maxRows: Int?
    /// How many problems of one kind are printed before they are only counted.
    public var printLimit: Int
    /// The variable to read from `.mat` radar files; nil: the variable named `data` (what
    /// DeepSense's own loader reads), else the file's only numeric array.
    public var radarVariable: String?

    /// The date used when neither `--date` nor a `date` column gives one.
    public static let defaultDate = "2022-01-01"

    /// Options with the given folder and output; everything else at its default.
    public init(scenarioDirectory: String, outputPath: String, csvPath: String? = nil, sitePath: String? = nil,
                siteOutputPath: String? = nil, date: String? = nil, utcOffsetHours: Double = 0,
                compression: BagCompression = .none, prefix: String = "", maxRows: Int? = nil, printLimit: Int = 5,
                radarVariable: String? = nil) {
        self.scenarioDirectory = scenarioDirectory
        self.outputPath = outputPath
        self.csvPath = csvPath
        self.sitePath = sitePath
        self.siteOutputPath = siteOutputPath
        self.date = date
        self.utcOffsetHours = utcOffsetHours
        self.compression = compression
        self.prefix = prefix
        self.maxRows = maxRows
        self.printLimit = printLimit
        self.radarVariable = radarVariable
    }

    /// The generated site file's path.
    public var resolvedSiteOutputPath: String {
        if let siteOutputPath { return siteOutputPath }
        let base = outputPath.hasSuffix(".mcap") ? String(outputPath.dropLast(5)) : outputPath
        return base + ".site.yaml"
    }
}

extension Modality {
    /// The DeepSense 6G scenario CSV column holding this modality's file path.
    public var column: String {
        switch self {
        case .camera: return "unit1_rgb"
        case .radar: return "unit1_radar"
        case .lidar: return "unit1_lidar"
        case .gnss: return "unit2_loc"
        case .beamPower: return "unit1_pwr_60ghz"
        }
    }

}

/// What an import did: counts of everything read, written and skipped.
public struct DeepSenseImportReport: Sendable {
    /// Data rows read from the CSV.
    public var rows = 0
    /// Rows that became samples (a stamp and at least one message).
    public var samples = 0
    /// Sequences (`seq_index` values, in order of appearance; a change starts a new one).
    public var sequences = 0
    /// Messages written per topic.
    public var messages: [String: Int] = [:]
    /// Skips per "what: reason" (e.g. `camera: missing_file`, `row: out_of_order`).
    public var skipped: [String: Int] = [:]
    /// Power vectors holding at least one NaN (kept; the best beam ignores NaN).
    public var nanVectors = 0
    /// NaN entries over all power vectors.
    public var nanEntries = 0
    /// Rows whose `unit1_beam` label differs from the NaN-aware argmax of the power vector.
    public var labelDisagreements = 0
    /// LiDAR points dropped because a coordinate was not finite.
    public var nonFinitePointsDropped = 0
    /// First and last sample stamp (ns since the Unix epoch).
    public var firstStamp: Int64?, lastStamp: Int64?
    /// The site file written (nil when `--site` was given).
    public var siteWritten: String?
    /// Warnings about the input as a whole (missing columns, synthetic clock, …).
    public var warnings: [String] = []
    /// Bytes of the bag.
    public var bytes: UInt64 = 0
    /// Wall-clock seconds.
    public var seconds = 0.0
    /// CPU seconds (user + system) of the loader thread (read, parse, encode) and of the writing
    /// thread (compress, CRC, write); the larger one bounds the rate on an otherwise idle machine.
    public var loaderCPUSeconds = 0.0, writerCPUSeconds = 0.0
    /// Wall-clock seconds the loader waited for room in the hand-off queue (the writer was
    /// slower) and the writer waited for a loaded sample (the loader was slower). With the stages
    /// overlapping, one of them is near zero and the other is the difference of the stages' times.
    public var loaderWaitSeconds = 0.0, writerWaitSeconds = 0.0

    /// Samples per second the slower pipeline stage allows with a core of its own.
    public var cpuBoundRate: Double {
        let stage = max(loaderCPUSeconds, writerCPUSeconds)
        return stage > 0 ? Double(samples) / stage : 0
    }

    /// Every skip counted.
    public var totalSkipped: Int { skipped.values.reduce(0, +) }

    /// A human-readable summary.
    public var text: String {
        var lines: [String] = []
        let rate = seconds > 0 ? Double(samples) / seconds : 0
        lines.append("imported \(samples) of \(rows) rows in \(sequences) sequence(s): \(messages.values.reduce(0, +)) messages, "
                     + String(format: "%.1f MB in %.1f s (%.0f samples/s)", Double(bytes) / 1e6, seconds, rate))
        if loaderCPUSeconds > 0 || writerCPUSeconds > 0 {
            lines.append(String(format: "CPU: loader %.2f s, writer %.2f s (%.1f / %.1f ms per sample; the slower stage allows %.0f samples/s with a core of its own)",
                                loaderCPUSeconds, writerCPUSeconds, loaderCPUSeconds * 1e3 / Double(max(samples, 1)),
                                writerCPUSeconds * 1e3 / Double(max(samples, 1)), cpuBoundRate))
            lines.append(String(format: "overlap: the loader waited %.2f s for the writer, the writer %.2f s for the loader",
                                loaderWaitSeconds, writerWaitSeconds))
        }
        if let first = firstStamp, let last = lastStamp {
            lines.append("stamps \(isoTime(first)) … \(isoTime(last)) (" + String(format: "%.1f s", Double(last - first) / 1e9) + ")")
        }
        lines.append("messages: " + messages.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("power vectors with NaN: \(nanVectors) (\(nanEntries) NaN entries, kept; best beam ignores NaN); "
                     + "label ≠ argmax: \(labelDisagreements); LiDAR points with non-finite coordinates dropped: \(nonFinitePointsDropped)")
        if skipped.isEmpty {
            lines.append("skipped: nothing")
        } else {
            lines.append("skipped (\(totalSkipped)): " + skipped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        for w in warnings { lines.append("warning: \(w)") }
        if let siteWritten { lines.append("site calibration written to \(siteWritten) (guessed values are marked; check them)") }
        return lines.joined(separator: "\n")
    }
}

/// CPU seconds (user + system) the calling thread has used (0 where the platform cannot tell).
func threadCPUSeconds() -> Double {
    #if os(Linux)
    var usage = rusage()
    guard getrusage(__rusage_who_t(1), &usage) == 0 else { return 0 }  // RUSAGE_THREAD
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    #else
    return 0
    #endif
}

/// ISO-8601 UTC text of a nanosecond stamp, to the microsecond.
func isoTime(_ stamp: Int64) -> String {
    let seconds = stamp.quotientAndRemainder(dividingBy: 1_000_000_000)
    let date = Date(timeIntervalSince1970: TimeInterval(seconds.quotient))
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date) + String(format: ".%06dZ", Int(seconds.remainder / 1000))
}

/// Imports a DeepSense 6G scenario folder into a Foresight bag, streaming: one sample in
/// flight per pipeline stage (a loader thread reads and encodes sample n+1 while this thread
/// compresses and writes sample n; a prefetch thread asks the kernel to read the files of the
/// next rows ahead), so memory does not grow with the number of samples. Encoded payloads go
/// back from the writer to the loader for reuse, and the loader reads files into buffers it
/// keeps: after the first samples no memory is allocated per sample.
///
/// Per CSV row: the five sensor messages (`sensor/camera` JPEG, `sensor/radar` cf32 cube from a
/// complex64 `.npy` or a MATLAB `.mat` (``MATFile``), `sensor/lidar` from an ASCII `.ply`, `sensor/gnss` from the UE GPS file,
/// `sensor/beam_power` from the 64 linear powers), plus `truth/beam` (best = `unit1_beam` − 1,
/// else the NaN-aware argmax; power = the vector) and `truth/ue` (the UE GPS position in the
/// site frame), all with the row's stamp. `seq` counts samples within a sequence and restarts at
/// 0 when `seq_index` changes. Bad files are counted per modality and reason, never dropped silently.
public final class DeepSenseImporter {
    /// The settings.
    public let options: DeepSenseImportOptions
    private let log: @Sendable (String) -> Void
    /// Rows planned (and their files read ahead) before the row being loaded: at DeepSense sizes
    /// about 11 MB of input in flight.
    static let lookahead = 4

    /// Creates an importer; `log` receives one line per printed problem or warning.
    public init(options: DeepSenseImportOptions, log: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.log = log
    }

    /// Runs the import and returns its report; throws only for problems that stop the whole import.
    public func run(progress: ((Int) -> Void)? = nil) throws(InteropError) -> DeepSenseImportReport {
        let started = Date()
        let writerCPUStart = threadCPUSeconds()
        var report = DeepSenseImportReport()
        let csv = try findCSV()
        let header = try CSVRowReader(path: csv)
        guard let names = try header.next() else { throw .csv(path: csv, reason: "the CSV is empty (no header row)") }
        let columns = CSVColumns(names: names.map { $0.trimmingCharacters(in: .whitespaces) })
        try checkColumns(columns, csv: csv, report: &report)

        let site: Site? = try options.sitePath.map { path throws(InteropError) in
            do { return try Site.load(path: path) } catch { throw .usage("site calibration \(path): \(error)") }
        }
        let origin = try resolveOrigin(site: site, csv: csv, columns: columns, report: &report)
        let frames = FrameIDs(site: site)
        let dayBase = try resolveDay(csv: csv, columns: columns, report: &report)
        if !columns.has("time_stamp") {
            report.warnings.append("the CSV has no time_stamp column: samples are stamped with a synthetic 10 Hz clock from \(isoTime(dayBase))")
        }

        let writer: BagWriter
        do {
            writer = try BagWriter(path: options.outputPath, options: BagWriterOptions(
                compression: options.compression, library: "foresight import deepsense"))
        } catch {
            throw .output("\(error)")
        }
        var channels: [String: UInt16] = [:]
        func channel(_ type: MessageType) throws(InteropError) -> UInt16 {
            let topic = options.prefix + type.defaultTopic
            if let id = channels[topic] { return id }
            do {
                let schema = try writer.addSchema(name: type.name, encoding: "jsonschema", data: Array(type.jsonSchema.utf8))
                let id = try writer.addChannel(topic: topic, messageEncoding: "msgpack", schemaID: schema)
                channels[topic] = id
                return id
            } catch {
                throw .output("\(error)")
            }
        }

        // Stage 1 (loader thread): CSV rows → planned samples → loaded, encoded messages.
        let queue = BoundedQueue<LoadedSample>(capacity: 3)
        let planner = SamplePlanner(columns: columns, dayBase: dayBase, utcOffsetNs: Int64(options.utcOffsetHours * 3.6e12),
                                    synthetic: !columns.has("time_stamp"))
        let pool = PayloadPool()
        let loader = SampleLoader(directory: options.scenarioDirectory, origin: origin, frames: frames, columns: columns, pool: pool,
                                 radarVariable: options.radarVariable)
        let maxRows = options.maxRows
        let loaderError = Locked<InteropError?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let loaderCPU = Locked(0.0)
        let thread = Thread {
            defer {
                loaderCPU.withLock { $0 = threadCPUSeconds() }
                queue.close()
                finished.signal()
            }
            do throws(InteropError) {
                let rows = try CSVRowReader(path: csv)
                _ = try rows.next()  // header
                var planner = planner
                var count = 0
                // Rows are planned `lookahead` rows before they are loaded, and their files
                // handed to the prefetcher then: the disk reads ahead while this thread parses.
                let prefetcher = FilePrefetcher()
                defer { prefetcher.finish() }
                var pending: [SamplePlan] = []
                pending.reserveCapacity(DeepSenseImporter.lookahead + 1)
                while let fields = try rows.next() {
                    if let maxRows, count >= maxRows { break }
                    count += 1
                    let plan = planner.plan(fields: fields, line: rows.line)
                    prefetcher.prefetch(loader.paths(plan))
                    pending.append(plan)
                    if pending.count > DeepSenseImporter.lookahead {
                        guard queue.push(loader.load(pending.removeFirst())) else { return }
                    }
                }
                for plan in pending {
                    guard queue.push(loader.load(plan)) else { return }
                }
            } catch {
                loaderError.withLock { $0 = error }
            }
        }
        thread.name = "foresight-import"
        thread.stackSize = 1 << 22
        thread.start()

        // Stage 2 (this thread): bookkeeping and writing, in CSV order.
        var printed: [String: Int] = [:]
        func problem(_ key: String, _ text: String) {
            report.skipped[key, default: 0] += 1
            let n = printed[key, default: 0]
            if n < options.printLimit { log(text) } else if n == options.printLimit { log("\(key): further problems of this kind are only counted") }
            printed[key] = n + 1
        }
        var siteStats = SiteStatistics()
        var lastSequence: String? = nil
        var writeError: InteropError? = nil
        while var sample = queue.pop() {
            report.rows += 1
            progress?(report.rows)
            if writeError != nil { continue }  // drain so the loader can finish
            if let rowProblem = sample.plan.problem {
                problem("row: \(rowProblem.kind)", "CSV line \(sample.plan.line): \(rowProblem.text) — row skipped")
                continue
            }
            for p in sample.problems { problem("\(p.modality.rawValue): \(p.error.kind)", "CSV line \(sample.plan.line): \(p.error)") }
            for note in sample.notes { problem(note.key, "CSV line \(sample.plan.line): \(note.text)") }
            guard !sample.messages.isEmpty else {
                problem("row: no_readable_file", "CSV line \(sample.plan.line): none of the row's files could be read — row skipped")
                continue
            }
            if sample.plan.sequenceValue != lastSequence {
                report.sequences += 1
                lastSequence = sample.plan.sequenceValue
            }
            report.samples += 1
            report.nanVectors += sample.nanEntries > 0 ? 1 : 0
            report.nanEntries += sample.nanEntries
            report.labelDisagreements += sample.labelDisagrees ? 1 : 0
            report.nonFinitePointsDropped += sample.droppedPoints
            if report.firstStamp == nil { report.firstStamp = sample.plan.stamp }
            report.lastStamp = sample.plan.stamp
            siteStats.add(sample)
            let stamp = UInt64(max(0, sample.plan.stamp))
            do throws(InteropError) {
                for i in sample.messages.indices {
                    let type = sample.messages[i].type
                    let payload = sample.messages[i].payload
                    sample.messages[i].payload = []  // `payload` is now the only reference: the pool can reuse it
                    let id = try channel(type)
                    do {
                        try writer.write(channelID: id, sequence: sample.plan.seq, logTime: stamp, publishTime: stamp, data: payload)
                    } catch {
                        throw .output("\(error)")
                    }
                    pool.give(type, payload)
                    report.messages[options.prefix + type.defaultTopic, default: 0] += 1
                }
            } catch {
                writeError = error
                queue.close()
            }
        }
        finished.wait()
        report.loaderCPUSeconds = loaderCPU.current
        (report.loaderWaitSeconds, report.writerWaitSeconds) = queue.waits
        if let error = writeError { throw error }
        if let error = loaderError.withLock({ $0 }) { throw error }

        if site == nil {
            let path = options.resolvedSiteOutputPath
            let text = DeepSenseSiteFile(origin: origin, stats: siteStats, scenario: options.scenarioDirectory).yaml()
            do {
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw .output("site file \(path): \(error)")
            }
            // Make sure what we wrote is a valid site file.
            do { _ = try Site.load(path: path) } catch { throw .output("the generated site file \(path) does not load: \(error)") }
            report.siteWritten = path
        }
        do {
            var meta = ["source": options.scenarioDirectory, "csv": csv, "rows": "\(report.rows)", "samples": "\(report.samples)",
                        "sequences": "\(report.sequences)", "skipped": "\(report.totalSkipped)",
                        "foresight_tool": "foresight import deepsense"]
            if let s = report.siteWritten ?? options.sitePath { meta["site"] = s }
            try writer.writeMetadata(name: "foresight.import", values: meta)
            let summary = try writer.finish()
            report.bytes = summary.fileSize
        } catch {
            throw .output("\(error)")
        }
        report.seconds = Date().timeIntervalSince(started)
        report.writerCPUSeconds = threadCPUSeconds() - writerCPUStart
        return report
    }

    private func findCSV() throws(InteropError) -> String {
        if let csvPath = options.csvPath { return csvPath }
        let dir = options.scenarioDirectory
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw .usage("\(dir) is not a folder (give the scenario folder that holds scenarioNN.csv)")
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.lowercased().hasSuffix(".csv") }.sorted()
        let scenario = names.filter { $0.lowercased().hasPrefix("scenario") }
        let pick = scenario.count == 1 ? scenario : names
        guard pick.count == 1 else {
            throw .usage(pick.isEmpty ? "\(dir) holds no .csv file (expected scenarioNN.csv); pass --csv"
                                      : "\(dir) holds several CSV files (\(pick.joined(separator: ", "))); choose one with --csv")
        }
        return (dir as NSString).appendingPathComponent(pick[0])
    }

    private func checkColumns(_ columns: CSVColumns, csv: String, report: inout DeepSenseImportReport) throws(InteropError) {
        let present = Modality.allCases.filter { columns.has($0.column) }
        guard !present.isEmpty else {
            throw .csv(path: csv, reason: "none of the columns \(Modality.allCases.map(\.column)) is present (header: \(columns.names))")
        }
        for m in Modality.allCases where !columns.has(m.column) {
            report.warnings.append("no \(m.column) column: no \(m.messageType.defaultTopic) messages")
        }
        if !columns.has("seq_index") { report.warnings.append("no seq_index column: the rows are one sequence") }
        if !columns.has("unit1_beam") { report.warnings.append("no unit1_beam column: truth/beam uses the NaN-aware argmax of the power vector") }
    }

    private func resolveDay(csv: String, columns: CSVColumns, report: inout DeepSenseImportReport) throws(InteropError) -> Int64 {
        var dateText = options.date
        if dateText == nil, let index = columns.index("date") {
            let rows = try CSVRowReader(path: csv)
            _ = try rows.next()
            if let first = try rows.next(), index < first.count {
                dateText = first[index].trimmingCharacters(in: CharacterSet(charactersIn: "[]'\" "))
            }
        }
        if dateText == nil {
            report.warnings.append("no --date and no date column: stamps use the default date \(DeepSenseImportOptions.defaultDate)")
        }
        let text = dateText ?? DeepSenseImportOptions.defaultDate
        guard let days = DeepSenseTime.days(text) else { throw .usage("date '\(text)' is not a valid YYYY-MM-DD date") }
        return days * 86_400_000_000_000
    }

    /// The site origin: the given site's, else the base station's GPS (first readable
    /// `unit1_loc`), else the first UE position (with a warning).
    private func resolveOrigin(site: Site?, csv: String, columns: CSVColumns,
                               report: inout DeepSenseImportReport) throws(InteropError) -> GeodeticReference {
        if let site { return site.origin }
        let rows = try CSVRowReader(path: csv)
        _ = try rows.next()
        var scanned = 0
        while let fields = try rows.next(), scanned < 50 {
            scanned += 1
            for column in ["unit1_loc", "unit2_loc"] {
                guard let value = columns.value(column, in: fields), let path = resolvePath(value, directory: options.scenarioDirectory) else { continue }
                if case .success(let fix) = readLatLon(path), fix.lat.isFinite, fix.lon.isFinite {
                    if column == "unit2_loc" {
                        report.warnings.append("no readable base-station GPS (unit1_loc): the site origin is the first UE position")
                    }
                    return GeodeticReference(latitude: fix.lat, longitude: fix.lon)
                }
            }
        }
        throw .usage("no readable unit1_loc or unit2_loc GPS file in the first rows: cannot place the site; pass --site")
    }
}

/// The CSV header: column name → index.
struct CSVColumns: Sendable {
    let names: [String]
    private let indexes: [String: Int]

    init(names: [String]) {
        self.names = names
        var indexes: [String: Int] = [:]
        for (i, n) in names.enumerated() where indexes[n] == nil { indexes[n] = i }
        self.indexes = indexes
    }

    func has(_ name: String) -> Bool { indexes[name] != nil }
    func index(_ name: String) -> Int? { indexes[name] }

    /// The trimmed value of `name` in `fields`, nil if the column is absent or the cell empty/`nan`.
    func value(_ name: String, in fields: [String]) -> String? {
        guard let i = indexes[name], i < fields.count else { return nil }
        let v = fields[i].trimmingCharacters(in: .whitespaces)
        if v.isEmpty || v.lowercased() == "nan" || v.lowercased() == "none" { return nil }
        return v
    }
}

/// Resolves a CSV path cell relative to the scenario folder (`./unit1/...` and `unit1/...` alike).
func resolvePath(_ cell: String, directory: String) -> String? {
    var p = cell.trimmingCharacters(in: CharacterSet(charactersIn: "[]'\" "))
    guard !p.isEmpty else { return nil }
    if p.hasPrefix("/") { return p }
    while p.hasPrefix("./") { p.removeFirst(2) }
    return (directory as NSString).appendingPathComponent(p)
}

/// Reads a GPS text file: latitude and longitude, the first two numbers.
func readLatLon(_ path: String) -> Result<(lat: Double, lon: Double), InteropError> {
    do {
        let bytes = try FileBytes.read(path, limit: 1 << 16, terminator: true)
        switch NumberList.parse(bytes, maxCount: 64) {
        case .failure(let reason): return .failure(.text(path: path, reason: "GPS file: \(reason)"))
        case .success(let values):
            guard values.count >= 2 else { return .failure(.text(path: path, reason: "GPS file holds \(values.count) numbers; expected latitude and longitude")) }
            let lat = values[0], lon = values[1]
            if lat.isNaN || lon.isNaN { return .success((.nan, .nan)) }
            guard (-90...90).contains(lat), (-180...180).contains(lon) else {
                return .failure(.text(path: path, reason: "latitude \(lat), longitude \(lon) are out of range"))
            }
            return .success((lat, lon))
        }
    } catch {
        return .failure(error)
    }
}

/// Frame ids of the imported messages (the given site's, else the generated site's).
struct FrameIDs: Sendable {
    var camera = Modality.camera.rawValue, radar = Modality.radar.rawValue, lidar = Modality.lidar.rawValue, gnss = "ue_gnss", beamPower = "mmwave", site = "site"

    init(site: Site?) {
        guard let site else { return }
        camera = site.camera.frameID
        radar = site.radar.frameID
        lidar = site.lidar.frameID
        gnss = site.gnss.frameID
        beamPower = site.beamPower.frameID
    }
}
