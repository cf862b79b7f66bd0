import Foundation
import ForesightInference
import Histogram

/// The default d = 128 multi-task model at batch 1 (random weights): parameters, FLOPs per frame,
/// per-frame streaming latency, achieved GFLOP/s, and the OpenBLAS sgemm ceiling of the same run.
let inferenceBenchmark = Benchmark(name: "inference") { report in
    let threads = ProcessInfo.processInfo.environment["FORESIGHT_BLAS_THREADS"].flatMap(Int.init) ?? 2
    BLAS.configure(threads: threads)
    report.record("openblas threads", Double(BLAS.threads), "")

    // sgemm ceiling: square products and a backbone-shaped one (tokens × d · d × 4d).
    var ceiling = 0.0
    for (m, n, k) in [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (559, 512, 128)] {
        var rng = BenchRandom(seed: UInt64(m * n * k))
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        var c = [Float](repeating: 0, count: m * n)
        let iterations = max(5, 2_000_000_000 / (2 * m * n * k))
        let h = measure(iterations: iterations) { BLAS.multiply(a, b, into: &c, m: m, n: n, k: k) }
        let gflops = Double(2 * m * n * k) / Double(h.valueAtPercentile(50))
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

    let config = ModelConfig()
    let model = try MultiTaskModel(config: config, tensors: MultiTaskModel.randomWeights(config: config, seed: 42))
    report.record("parameters", Double(model.parameterCount), "")
    report.record("tokens per frame", Double(config.tokensPerFrame), "")
    report.record("tokenizer MFLOP per frame", Double(model.tokenizerFlops) / 1e6, "MFLOP")
    report.record("backbone MFLOP per frame", Double(model.backboneFlops) / 1e6, "MFLOP")
    report.record("heads MFLOP per frame", Double(model.headFlops) / 1e6, "MFLOP")
    report.record("total MFLOP per frame", Double(model.flopsPerFrame) / 1e6, "MFLOP")

    var rng = BenchRandom(seed: 9)
    func frame(_ i: Int) -> FrameInputs {
        FrameInputs(stamp: Int64(i) * 100_000_000,
                    camera: (0..<config.vision.inputCount).map { _ in Float.random(in: -2...2, using: &rng) },
                    radar: (0..<config.radar.inputCount).map { _ in Float.random(in: 0...1, using: &rng) },
                    lidar: (0..<config.lidar.inputCount).map { _ in Float.random(in: 0...50, using: &rng) },
                    gnss: SIMD2(Float(i) * 1.2, 3 - Float(i) * 0.4),
                    beamPower: (0..<config.numBeams).map { _ in Float.random(in: -1...1, using: &rng) })
    }
    let frames = (0..<16).map(frame)
    let split = ProcessInfo.processInfo.environment["FORESIGHT_SPLIT_HEADS"] == "1"
    report.record("attention heads split over 2 threads", split ? 1 : 0, "")
    let session = InferenceSession(model: model, splitHeads: split)
    for f in frames.prefix(config.history) { _ = try session.push(f) }

    var index = 0
    var tokenize = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    var window = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    let total = try measure(iterations: 60) {
        _ = try session.push(frames[index % frames.count])
        index += 1
        tokenize.record(session.lastTimings.tokenize)
        window.record(session.lastTimings.window)
    }
    report.recordLatency("per-frame latency", total)
    // CPU time of the process per frame: independent of how busy the shared machine is.
    var cpu: [Double] = []
    for _ in 0..<20 {
        let before = processCPUSeconds()
        _ = try session.push(frames[index % frames.count])
        index += 1
        cpu.append(processCPUSeconds() - before)
    }
    cpu.sort()
    let cpuMedian = cpu[cpu.count / 2]
    report.record("per-frame CPU time p50", cpuMedian * 1e6, "us")
    report.record("GFLOP per CPU-second (model)", Double(model.flopsPerFrame) / cpuMedian / 1e9, "GFLOP/s")
    report.record("GFLOP per CPU-second (sgemm 559x512x128)", cpuCeiling, "GFLOP/s")
    report.recordLatency("tokenize new frame", tokenize)
    report.recordLatency("backbone + heads over window", window)
    let p50 = Double(total.valueAtPercentile(50))
    let achieved = Double(model.flopsPerFrame) / p50
    let backbone = Double(model.backboneFlops + model.headFlops) / Double(window.valueAtPercentile(50))
    report.record("achieved GFLOP/s per frame (p50)", achieved, "GFLOP/s")
    report.record("backbone+heads GFLOP/s (p50)", backbone, "GFLOP/s")
    report.record("backbone share of sgemm ceiling", backbone / ceiling, "")
    report.record("frames per second (p50)", 1e9 / p50, "Hz")
}
