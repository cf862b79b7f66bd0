import ForesightCore
import Foundation
import ForesightInference
import Histogram

/// The streaming multi-task model (default v2 config, random weights, or FORESIGHT_BENCH_MODEL=DIR) and the
/// GRU baseline at batch 1: parameters, FLOPs per frame, per-frame streaming latency with the window cached,
/// stage split, CPU per frame, achieved GFLOP/s, and the OpenBLAS sgemm ceiling of the same run.
let inferenceBenchmark = Benchmark(name: "inference") { report in
    let threads = ProcessInfo.processInfo.environment["FORESIGHT_BLAS_THREADS"].flatMap(Int.init) ?? 2
    BLAS.configure(threads: threads)
    report.record("openblas threads", Double(BLAS.threads), "")

    // sgemm ceiling: square products and a backbone-shaped one (tokens × d · d × 4d).
    var ceiling = 0.0
    for (m, n, k) in [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (559, 512, 128)] {
        let gflops = sgemmGFLOPs(m: m, n: n, k: k)
        ceiling = max(ceiling, gflops)
        report.record("sgemm \(m)x\(n)x\(k) GFLOP/s (p50)", gflops, "GFLOP/s")
    }
    report.record("sgemm ceiling GFLOP/s", ceiling, "GFLOP/s")
    // The same ceiling in CPU time (process CPU seconds), for comparison on a loaded machine.
    let cpuCeiling: Double = {
        let (m, n, k) = (559, 512, 128)
        var rng = BenchRandom(seed: 5)
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        var c = [Float](repeating: 0, count: m * n)
        var samples: [Double] = []
        for _ in 0..<30 {
            let before = processCPUSeconds()
            for _ in 0..<10 { BLAS.multiply(a, b, into: &c, m: m, n: n, k: k) }
            samples.append(processCPUSeconds() - before)
        }
        samples.sort()
        let flops = Double(10 * 2 * m * n * k)
        let median: Double = samples[samples.count / 2]
        return flops / median / 1e9
    }()

    // The model: FORESIGHT_BENCH_MODEL=DIR loads an exported folder (the PyTorch twin benchmark,
    // `make bench-compare` times the same folder against PyTorch); otherwise the default v2 config, random weights.
    let model: LoadedModel
    if let dir = ProcessInfo.processInfo.environment["FORESIGHT_BENCH_MODEL"] {
        model = try LoadedModel.load(directory: URL(fileURLWithPath: dir))
    } else {
        let config = ModelConfig()
        model = .multitask(try MultiTaskModel(config: config, tensors: MultiTaskModel.randomWeights(config: config, seed: 42)))
    }
    let gruConfig = GRUConfig()
    let gru = LoadedModel.gru(try GRUModel(config: gruConfig, tensors: GRUModel.randomWeights(config: gruConfig, seed: 42)))
    try benchStreaming(model, label: "", report: report, ceiling: ceiling, cpuCeiling: cpuCeiling)
    try benchStreaming(gru, label: "gru ", report: report, ceiling: ceiling, cpuCeiling: cpuCeiling)
}

/// Inputs generated like the parity fixtures' `pattern` (so the PyTorch benchmark feeds the same values).
func benchPattern(_ n: Int, seed: Int) -> [Float] {
    (0..<n).map { i in
        let u = (UInt64(i) &* 2_654_435_761 &+ UInt64(seed) &* 97_531 &+ 12_345) & 0xFFFF_FFFF
        return Float(u >> 8) / Float(16_777_216) * 2 - 1
    }
}

/// Per-frame streaming latency (full window cached), stage split, CPU per frame, achieved GFLOP/s.
func benchStreaming(_ model: LoadedModel, label: String, report: BenchReport, ceiling: Double, cpuCeiling: Double) throws {
    let info = model.info
    report.record("\(label)model", info.kind == .multitask ? 2 : 1, info.kind.rawValue)
    report.record("\(label)parameters", Double(info.parameterCount), "")
    report.record("\(label)MFLOP per streamed frame", Double(info.flopsPerFrame) / 1e6, "MFLOP")
    if case let .multitask(m, _) = model {
        report.record("tokens per frame", Double(m.config.tokensPerFrame), "")
        report.record("tokenizer MFLOP per frame", Double(m.tokenizerFlops) / 1e6, "MFLOP")
        report.record("encoder MFLOP per frame", Double(m.encoderFlops) / 1e6, "MFLOP")
        report.record("predictor MFLOP per frame", Double(m.predictorFlops) / 1e6, "MFLOP")
        report.record("heads MFLOP per frame", Double(m.headFlops) / 1e6, "MFLOP")
    }
    let frames = (0..<16).map { benchFrame(info, $0).frame }
    let session = InferenceSession(model: model)
    for f in frames.prefix(info.history) { _ = try session.push(f) }

    var index = info.history
    var tokenize = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    var encode = tokenize, predict = tokenize
    let total = try measure(iterations: 200) {
        _ = try session.push(frames[index % frames.count])
        index += 1
        tokenize.record(session.lastTimings.tokenize)
        encode.record(session.lastTimings.encode)
        predict.record(session.lastTimings.predict)
    }
    report.recordLatency("\(label)per-frame streaming latency", total)
    report.recordLatency("\(label)tokenize new frame", tokenize)
    report.recordLatency("\(label)encode new frame (cached window)", encode)
    report.recordLatency("\(label)predictor + heads", predict)
    // CPU time of the process per frame: less sensitive to other processes on the machine.
    var cpu: [Double] = []
    for _ in 0..<40 {
        let before = processCPUSeconds()
        _ = try session.push(frames[index % frames.count])
        index += 1
        cpu.append(processCPUSeconds() - before)
    }
    cpu.sort()
    let cpuMedian = cpu[cpu.count / 2]
    report.record("\(label)per-frame CPU time p50", cpuMedian * 1e6, "us")
    report.record("\(label)GFLOP per CPU-second (model)", Double(info.flopsPerFrame) / cpuMedian / 1e9, "GFLOP/s")
    report.record("\(label)GFLOP per CPU-second (sgemm 559x512x128)", cpuCeiling, "GFLOP/s")
    let p50 = Double(total.valueAtPercentile(50))
    report.record("\(label)achieved GFLOP/s per frame (p50)", Double(info.flopsPerFrame) / p50, "GFLOP/s")
    report.record("\(label)share of sgemm ceiling", Double(info.flopsPerFrame) / p50 / ceiling, "")
    report.record("\(label)frames per second (p50)", 1e9 / p50, "Hz")
}
