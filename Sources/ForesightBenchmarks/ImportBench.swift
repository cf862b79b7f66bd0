import Foundation

/// `foresight import deepsense` on a synthetic 500-sample scenario at DeepSense sizes (960×540
/// JPEG, complex64 [4, 256, 250] radar, 17 000-point ASCII PLY, 64 powers), generated once by
/// `Tools/make_deepsense_fixture.py` into the temporary folder. The importer runs as a child
/// process (the real command, release build): first on 100 rows, then on all 500; the peak RSS
/// of each shows that memory does not grow with the number of samples.
let importBenchmark = Benchmark(name: "import") { report in
    let fm = FileManager.default
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let python = root.appendingPathComponent(".venv/bin/python").path
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("foresight").path
    guard fm.isExecutableFile(atPath: python), fm.isExecutableFile(atPath: binary) else {
        print("import: skipped (needs .venv from Tools/setup.sh and the foresight executable next to foresight-bench)")
        return
    }
    let folder = fm.temporaryDirectory.appendingPathComponent("foresight-bench-deepsense-500").path
    if !fm.fileExists(atPath: folder + "/scenario32.csv") {
        print("import: generating the 500-sample scenario in \(folder) (once; ~1.6 GB)…")
        let gen = Process()
        gen.executableURL = URL(fileURLWithPath: python)
        gen.arguments = [root.appendingPathComponent("Tools/make_deepsense_fixture.py").path, folder, "--samples", "500",
                         "--sequences", "2", "--points", "17000", "--chirps", "250", "--nan-sample", "17", "--seed", "5"]
        try gen.run()
        gen.waitUntilExit()
        guard gen.terminationStatus == 0 else { throw BenchError("the fixture generator failed") }
    }
    let output = fm.temporaryDirectory.appendingPathComponent("foresight-bench-import.mcap").path
    defer {
        try? fm.removeItem(atPath: output)
        try? fm.removeItem(atPath: output.replacingOccurrences(of: ".mcap", with: ".site.yaml"))
    }
    func run(rows: Int, compression: String = "none") throws -> (seconds: Double, rssMB: Double, bytes: UInt64, cpuBound: Double) {
        // The previous run's bag goes first, outside the timed part: truncating a 1.25 GB file
        // (what --overwrite does to it) takes the file system ~0.5–1 s, which is not import work.
        try? fm.removeItem(atPath: output)
        sync()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["import", "deepsense", folder, "-o", output, "--date", "2022-04-11", "--limit", String(rows), "--compression", compression, "--overwrite"]
        let pipe = Pipe()
        p.standardOutput = pipe
        let start = DispatchTime.now().uptimeNanoseconds
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard p.terminationStatus == 0 else { throw BenchError("foresight import deepsense failed (status \(p.terminationStatus))") }
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)  // the largest child so far (kB on Linux)
        let size = (try? fm.attributesOfItem(atPath: output)[.size] as? UInt64) ?? 0
        // "… the slower stage allows N samples/s with a core of its own" (per-thread CPU time).
        var cpuBound = 0.0
        if let range = text.range(of: #"allows ([0-9.]+) samples/s"#, options: .regularExpression) {
            cpuBound = Double(text[range].split(separator: " ")[1]) ?? 0
        }
        return (seconds, Double(usage.ru_maxrss) / 1024, size, cpuBound)
    }
    let small = try run(rows: 100)
    report.record("deepsense import 100 rows", Double(100) / small.seconds, "samples/s")
    report.record("deepsense import peak RSS (100 rows)", small.rssMB, "MB")
    let full = try run(rows: 500)
    report.record("deepsense import 500 rows", Double(500) / full.seconds, "samples/s")
    report.record("deepsense import peak RSS (largest of both runs)", full.rssMB, "MB")
    report.record("deepsense import bag size (500 rows)", Double(full.bytes) / 1e6, "MB")
    report.record("deepsense import throughput (500 rows)", Double(full.bytes) / 1e6 / full.seconds, "MB/s of bag")
    report.record("deepsense import CPU-bound rate (slower stage, 500 rows)", full.cpuBound, "samples/s")
    let zstd = try run(rows: 500, compression: "zstd")
    report.record("deepsense import --compression zstd, 500 rows", 500 / zstd.seconds, "samples/s")
    report.record("deepsense import --compression zstd CPU-bound rate", zstd.cpuBound, "samples/s")
    report.record("deepsense import --compression zstd bag size", Double(zstd.bytes) / 1e6, "MB")
    let load = ProcessInfo.processInfo.activeProcessorCount
    var averages = [0.0, 0.0, 0.0]
    _ = getloadavg(&averages, 3)
    report.record("load average (1 min) at the end, \(load) cores", averages[0], "")
}

/// A benchmark that could not run.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
