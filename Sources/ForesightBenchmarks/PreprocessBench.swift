import CTurboJPEG
import Dispatch
import Foundation
import ForesightPreprocess
import ForesightWire
import Synchronization

/// Preprocessing figures at DeepSense sizes: per-stage latency and the front end's frames/s.
let preprocessBenchmark = Benchmark(name: "preprocess") { report in
    let inputs = try PreprocessBenchInputs()

    let camera = try CameraPreprocessor()
    var tensor = [Float](repeating: 0, count: camera.outputCount)
    try tensor.withUnsafeMutableBufferPointer { out in
        try inputs.jpeg.withUnsafeBytes { jpeg in
            report.recordLatency("camera jpeg 960x540 -> 3x224x224", try measure(iterations: 200) {
                try camera.process(jpeg: jpeg, into: out)
            })
        }
        try inputs.rgb.withUnsafeBytes { rgb in
            report.recordLatency("camera rgb8 960x540 -> 3x224x224", try measure(iterations: 200) {
                try camera.process(raw: rgb, width: 960, height: 540, encoding: .rgb8, into: out)
            })
        }
    }

    var reducedParameters = CameraParameters()
    reducedParameters.reducedJPEGDecode = true
    let reducedCamera = try CameraPreprocessor(parameters: reducedParameters)
    try tensor.withUnsafeMutableBufferPointer { out in
        try inputs.jpeg.withUnsafeBytes { jpeg in
            report.recordLatency("camera jpeg 960x540 reduced decode", try measure(iterations: 200) {
                try reducedCamera.process(jpeg: jpeg, into: out)
            })
        }
    }

    let radar = try RadarPreprocessor()
    var map = [Float](repeating: 0, count: radar.outputCount(samples: 256))
    try map.withUnsafeMutableBufferPointer { out in
        try inputs.radar.withUnsafeBytes { cube in
            report.recordLatency("radar cf32 4x256x250 -> 64x256", try measure(iterations: 100) {
                try radar.process(cube: cube, rx: 4, samples: 256, chirps: 250, type: .cf32, into: out)
            })
        }
    }

    let lidar = try LidarPreprocessor()
    var filters = LidarParameters()
    filters.voxelLeaf = SIMD3(0.2, 0.2, 0.2)
    filters.outlierRemoval = OutlierRemoval(meanK: 20, stddevMultiplier: 2)
    let lidarFiltered = try LidarPreprocessor(parameters: filters)
    var depth = [Float](repeating: 0, count: lidar.outputCount)
    try depth.withUnsafeMutableBufferPointer { out in
        try inputs.cloud.withUnsafeBytes { cloud in
            report.recordLatency("lidar 20k pts -> 64x256 projection", try measure(iterations: 100) {
                try lidar.process(points: cloud, count: 20_000, fields: ["x", "y", "z", "intensity"], into: out)
            })
            report.recordLatency("lidar 20k pts voxel0.2+SOR20+projection", try measure(iterations: 30) {
                try lidarFiltered.process(points: cloud, count: 20_000, fields: ["x", "y", "z", "intensity"], into: out)
            })
        }
    }

    let gnss = try GnssProjector(referenceLatitude: 33.4209, referenceLongitude: -111.929)
    report.recordLatency("gnss projection", try measure(iterations: 1000) {
        _ = try gnss.project(latitude: 33.421, longitude: -111.928)
    })
    let beam = try BeamPowerPreprocessor()
    var dbm = [Float](repeating: 0, count: 64)
    try dbm.withUnsafeMutableBufferPointer { out in
        try inputs.power.withUnsafeBufferPointer { power in
            report.recordLatency("beam power 64 mW -> dBm", try measure(iterations: 1000) {
                try beam.process(power: power, unit: .mw, into: out)
            })
        }
    }

    try runFrontEnd(inputs: inputs, report: report)
}

/// Runs the whole front end (all five modalities per frame) and records frames/s and latency.
private func runFrontEnd(inputs: PreprocessBenchInputs, report: BenchReport) throws {
    var config = FrontEndConfiguration(gnss: try GnssProjector(referenceLatitude: 33.4209, referenceLongitude: -111.929))
    config.inputCapacity = 1_000
    config.outputCapacity = 1_000
    let wire = Header(stamp: 0, seq: 0, frameID: "bench")
    let frame = RawFrame(seq: 0, stamp: 0, camera: Image(header: wire, width: 960, height: 540, encoding: .jpeg, data: inputs.jpeg),
                         radar: RadarCube(header: wire, rx: 4, samples: 256, chirps: 250, dtype: .cf32, data: inputs.radar),
                         lidar: PointCloud(header: wire, fields: ["x", "y", "z", "intensity"], count: 20_000, data: inputs.cloud),
                         gnss: GnssFix(header: wire, lat: 33.421, lon: -111.928, alt: 0, hdop: 1, fix: .threeD),
                         beamPower: BeamPower(header: wire, power: inputs.power, unit: .mw))
    let frames = 150
    let result = Mutex<(seconds: Double, received: Int, latencies: [UInt64])>((0, 0, []))
    let done = DispatchSemaphore(value: 0)
    let frontEnd = try FramePreprocessor(configuration: config)
    Task {
        // One frame at a time: end-to-end latency of a frame with all modalities.
        var latencies: [UInt64] = []
        for i in 0..<60 {
            var f = frame
            f.header.seq = UInt64(i)
            let start = DispatchTime.now().uptimeNanoseconds
            _ = await frontEnd.process(f)
            if i >= 10 { latencies.append(DispatchTime.now().uptimeNanoseconds - start) }
        }
        // Throughput: submit everything at once, time until the ordered output drains.
        let start = DispatchTime.now().uptimeNanoseconds
        for i in 0..<frames {
            var f = frame
            f.header.seq = UInt64(i)
            frontEnd.submit(f)
        }
        frontEnd.finish()
        var received = 0
        for await _ in frontEnd.output { received += 1 }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        result.withLock { $0 = (seconds, received, latencies) }
        done.signal()
    }
    done.wait()
    let (seconds, received, latencies) = result.withLock { $0 }
    let sorted = latencies.sorted()
    report.record("front end frame latency p50 (5 modalities)", Double(sorted[sorted.count / 2]) / 1_000, "us")
    report.record("front end frame latency p99 (5 modalities)", Double(sorted[sorted.count * 99 / 100]) / 1_000, "us")
    report.record("front end throughput, 2 frames in flight", Double(received) / seconds, "frames/s")
    report.record("front end frames dropped", Double(frontEnd.statistics.droppedInput + frontEnd.statistics.droppedOutput), "frames")
}

/// Synthetic inputs at DeepSense sizes, made once.
private struct PreprocessBenchInputs {
    var rgb: [UInt8]
    var jpeg: [UInt8]
    var radar: [UInt8]
    var cloud: [UInt8]
    var power: [Float]

    init() throws {
        var rng = BenchRandom(seed: 42)
        let w = 960, h = 540
        rgb = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let i = (y * w + x) * 3
                let noise = UInt8(truncatingIfNeeded: rng.next() % 24)
                rgb[i] = UInt8(truncatingIfNeeded: x / 4) &+ noise
                rgb[i + 1] = UInt8(truncatingIfNeeded: y / 3) &+ noise
                rgb[i + 2] = UInt8(truncatingIfNeeded: (x + y) / 6) &+ noise
            }
        }
        jpeg = try Self.encodeJPEG(rgb, width: w, height: h)
        var floats = [Float](repeating: 0, count: 2 * 4 * 256 * 250)
        for i in floats.indices { floats[i] = Float(Int(rng.next() % 2001) - 1000) / 1000 }
        radar = Self.bytes(floats)
        var points = [Float]()
        points.reserveCapacity(80_000)
        for _ in 0..<20_000 {
            let r = 2 + Float(rng.next() % 60_000) / 1000
            let yaw = Float(rng.next() % 62_832) / 10_000
            let z = Float(Int(rng.next() % 6_000) - 3_000) / 1000
            points += [r * Float(cos(Double(yaw))), r * Float(sin(Double(yaw))), z, 0.5]
        }
        cloud = Self.bytes(points)
        power = (0..<64).map { i in i % 17 == 0 ? .nan : Float(rng.next() % 1000) * 1e-6 }
    }

    static func bytes(_ values: [Float]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(values.count * 4)
        for v in values {
            let b = v.bitPattern
            out += [UInt8(truncatingIfNeeded: b), UInt8(truncatingIfNeeded: b >> 8),
                    UInt8(truncatingIfNeeded: b >> 16), UInt8(truncatingIfNeeded: b >> 24)]
        }
        return out
    }

    static func encodeJPEG(_ rgb: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        guard let handle = tjInitCompress() else { throw PreprocessError.corruptJPEG("tjInitCompress failed") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = rgb.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue),
                        &buffer, &size, Int32(TJSAMP_420.rawValue), 90, 0)
        }
        defer { tjFree(buffer) }
        guard status == 0, let buffer else { throw PreprocessError.corruptJPEG("tjCompress2 failed") }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(size)))
    }
}

/// A tiny deterministic generator (SplitMix64) for benchmark inputs.
