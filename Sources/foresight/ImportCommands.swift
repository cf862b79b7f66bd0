import ArgumentParser
import ForesightBag
import ForesightInterop
import ForesightSite
import Foundation

/// `foresight import`: brings recorded data from other testbeds into Foresight bags.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert recorded testbed data into a Foresight bag (docs/import.md).",
        discussion: "ROS 2 / ROS 1 bags: Tools/import_ros.py BAG -o drive.mcap --map topics.yaml (Python, rosbags).",
        subcommands: [ImportDeepSenseCommand.self]
    )
}

/// `foresight import deepsense`.
struct ImportDeepSenseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deepsense",
        abstract: "Convert a DeepSense 6G scenario folder (scenarioNN.csv + unit1/unit2 files) into a Foresight bag.",
        discussion: """
        Each CSV row becomes sensor/camera (JPEG), sensor/radar (complex64 .npy → cf32), \
        sensor/lidar (ASCII .ply), sensor/gnss (UE GPS), sensor/beam_power (64 linear powers, NaN \
        kept) and truth/beam (best = unit1_beam − 1; power = the vector) plus truth/ue (the UE GPS \
        in the site frame), all stamped with the row's time_stamp on --date. The CSV's path \
        columns are authoritative. seq restarts at 0 at every new seq_index. Unreadable files are \
        counted per modality and reason and printed (the first few of each kind); a summary ends \
        the run. Without --site a site file is written next to the bag, every guessed value marked.

        Example: foresight import deepsense scenario32 -o s32.mcap --date 2022-04-11 && \
        foresight eval s32.mcap --site s32.site.yaml
        """
    )

    @Argument(help: "The scenario folder (holding scenarioNN.csv).")
    var scenario: String

    @Option(name: [.short, .customLong("output")], help: "The bag to write.")
    var output: String

    @Option(help: "Site calibration to use (origin, frame ids). Default: generate OUTPUT.site.yaml.")
    var site: String?

    @Option(help: "Where to write the generated site file (default: the output path with .site.yaml).")
    var siteOut: String?

    @Option(help: "The scenario CSV (default: the only scenario*.csv in the folder).")
    var csv: String?

    @Option(help: "Date of the drive, YYYY-MM-DD (default: a date column of the CSV, else \(DeepSenseImportOptions.defaultDate)).")
    var date: String?

    @Option(parsing: .unconditional, help: "UTC offset of the time_stamp clock in hours (e.g. -7 for Arizona); 0 reads it as UTC.")
    var utcOffset: Double = 0

    @Option(help: "Chunk compression: none (default: fastest, ≥ 100 samples/s), zstd (real radar cubes shrink to about half; ~70 samples/s) or lz4.")
    var compression: BagCompression = .none

    @Option(help: "Topic prefix, e.g. bs1/.")
    var prefix: String = ""

    @Option(help: "Import only the first N rows.")
    var limit: Int?

    @Option(help: "The variable holding the radar cube in .mat radar files (default: 'data', else the file's only numeric array).")
    var radarVariable: String?

    @Flag(help: "Exit with status 3 if any row or file was skipped.")
    var strict = false

    @Flag(help: "Replace the output (and the generated site file) if it exists.")
    var overwrite = false

    func validate() throws {
        if !overwrite {
            let siteOutput = DeepSenseImportOptions(scenarioDirectory: scenario, outputPath: output, siteOutputPath: siteOut).resolvedSiteOutputPath
            for path in [output] + (site == nil ? [siteOutput] : []) where FileManager.default.fileExists(atPath: path) {
                throw ValidationError("\(path) already exists; choose another -o (or --site-out), or pass --overwrite to replace it")
            }
        }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let date, DeepSenseTime.days(date) == nil { throw ValidationError("--date '\(date)' is not a valid YYYY-MM-DD date") }
        if !utcOffset.isFinite || abs(utcOffset) > 14 { throw ValidationError("--utc-offset must be within ±14 hours") }
    }

    func run() throws {
        let options = DeepSenseImportOptions(scenarioDirectory: scenario, outputPath: output, csvPath: csv, sitePath: site,
                                             siteOutputPath: siteOut, date: date, utcOffsetHours: utcOffset,
                                             compression: compression, prefix: prefix, maxRows: limit,
                                             radarVariable: radarVariable)
        let tty = isatty(STDERR_FILENO) == 1
        let report: DeepSenseImportReport
        do {
            report = try DeepSenseImporter(options: options, log: { printError($0) }).run { rows in
                if tty, rows % 50 == 0 { FileHandle.standardError.write(Data("\r\u{1B}[K\(rows) rows…".utf8)) }
            }
        } catch {
            if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            throw CLIError("\(error)")
        }
        if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print(report.text)
        print("wrote \(output)")
        if strict, report.totalSkipped > 0 { throw ExitCode(3) }
    }
}

/// `foresight bag export`: a bag for other viewers.
struct BagExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a bag Foxglove can show: well-known-schema JSON channels and a 3-D scene (docs/foxglove.md).",
        discussion: """
        /camera (foxglove.CompressedImage or RawImage), /lidar (foxglove.PointCloud), /gnss and \
        /predict/position_fix (foxglove.LocationFix), /radar/range_angle (foxglove.RawImage mono8, \
        40 dB below the peak), /scene (foxglove.SceneUpdate in the frame 'site': base station, \
        boresight, the UE's measured and predicted track, the best beam as a cone coloured by the \
        blockage probability — needs --site), and every other protocol topic as plain JSON under \
        /TOPIC with its Foresight JSON Schema. Foxglove cannot decode msgpack channels; \
        --keep-original copies them too.

        Example: foresight bag export drive.mcap -o drive-foxglove.mcap --foxglove --site Calibration/sim-site.yaml
        """
    )

    @Argument(help: "The Foresight bag.")
    var file: String

    @Option(name: [.short, .customLong("output")], help: "The bag to write.")
    var output: String

    @Flag(help: "Write Foxglove well-known schemas (the only export format so far; required).")
    var foxglove = false

    @Option(help: "Site calibration (base station pose, codebook) for the 3-D scene.")
    var site: String?

    @Flag(help: "Also copy the original msgpack channels.")
    var keepOriginal = false

    @Option(help: "Chunk compression: zstd, lz4 or none.")
    var compression: BagCompression = .zstd

    @Flag(help: "Replace the output file if it exists.")
    var overwrite = false

    func validate() throws {
        if FileManager.default.fileExists(atPath: output), !overwrite {
            throw ValidationError("\(output) already exists; choose another -o, or pass --overwrite to replace it")
        }
        if !foxglove { throw ValidationError("choose the export format: --foxglove") }
        if file == output { throw ValidationError("the output must be a different file from the input") }
    }

    func run() throws {
        var siteValue: Site? = nil
        if let site {
            do { siteValue = try Site.load(path: site) } catch { throw CLIError("site calibration \(site): \(error)") }
        }
        let options = FoxgloveExportOptions(input: file, output: output, site: siteValue, keepOriginal: keepOriginal, compression: compression)
        do {
            let report = try FoxgloveExporter(options: options).run()
            print(report.text)
            print("wrote \(output)")
        } catch {
            throw CLIError("\(error)")
        }
    }
}
