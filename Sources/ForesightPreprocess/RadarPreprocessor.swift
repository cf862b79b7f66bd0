import CFFTW
import ForesightCore
import ForesightWire
import Synchronization

/// How the range-angle map is scaled after summation.
public enum RadarMapNormalization: Sendable, Equatable {
    /// Divide by the map's maximum (an all-zero map stays zero). Values in [0, 1].
    case divideByMax
    /// Leave the summed magnitudes as they are.
    case none
}

/// Radar preprocessing parameters (JEPA-MSAC §III-A2 and the DeepSense range-angle recipe).
public struct RadarParameters: Sendable, Equatable {
    /// Angle FFT length; the rx axis is zero-padded to it (paper: 64).
    public var angleBins: Int = 64
    /// Map scaling.
    public var normalization: RadarMapNormalization = .divideByMax
    /// Largest accepted rx × samples × chirps (bounds allocation).
    public var maxElements: Int = 1 << 22
    /// Plan the angle FFT with `FFTW_MEASURE` (slower planning once per shape, about 3× faster
    /// execution measured at 4×256×250) instead of `FFTW_ESTIMATE`.
    public var measureAnglePlan: Bool = true
    /// Number of FFTW plan sets kept for different cube shapes.
    public var planCacheSize: Int = 4
    /// Threads that share one cube's range bins (the preprocessor's own thread plus `threads − 1`
    /// workers): the angle transform of each range bin is independent, and the output is identical
    /// for any count. Scheduling only: not part of the preprocessing version.
    public var threads: Int = 2

    /// Creates the default parameters.
    public init() {}

    /// Checks that every field is usable.
    public func validate() throws(PreprocessError) {
        guard (2...4096).contains(angleBins) else { throw .badParameter("radar angleBins \(angleBins) must be within 2...4096") }
        guard maxElements > 0, planCacheSize > 0 else { throw .badParameter("radar maxElements and planCacheSize must be positive") }
        guard (1...16).contains(threads) else { throw .badParameter("radar threads \(threads) must be within 1...16") }
    }
}

/// FFTW's planner is not thread-safe: every plan creation and destruction goes through this lock.
let fftwPlannerLock = Mutex<Void>(())

/// Turns a raw FMCW radar cube [rx, samples, chirps] into a range-angle map [angle, range].
///
/// Steps: (1) FFT over the ADC samples (fast time) → range bins; (2) static clutter removal:
/// subtract, for every (rx, range bin), the mean over chirps; (3) FFT over rx zero-padded to
/// `angleBins`, then fftshift over angle (zero angle in the middle, like DeepSense);
/// (4) sum of magnitudes over chirps; (5) normalization. Output row-major
/// `[angleBins, samples]` float32: `map[a * samples + r]`.
///
/// FFTW plans are made once per cube shape (under a global planner lock) and reused;
/// execution only uses `fftwf_execute` and `fftwf_execute_dft`. The range bins of one cube are
/// shared out over `parameters.threads` threads (the caller plus a worker team). Not thread-safe:
/// use one per actor/thread.
public final class RadarPreprocessor {
    /// The parameters this preprocessor was built with.
    public let parameters: RadarParameters
    private var plans: [RadarPlanSet] = []
    /// Splits a cube's range bins across `parameters.threads` threads.
    private let team: WorkTeam

    /// Creates a preprocessor; fails on invalid parameters.
    public init(parameters: RadarParameters = RadarParameters()) throws(PreprocessError) {
        try parameters.validate()
        self.parameters = parameters
        team = WorkTeam(size: parameters.threads, name: "fs-pre-radar-worker")
    }

    /// Number of floats in the output map for a cube with `samples` ADC samples.
    public func outputCount(samples: Int) -> Int { parameters.angleBins * samples }

    /// Processes one cube and writes the `[angleBins, samples]` map into `output`.
    public func process(cube: UnsafeRawBufferPointer, rx: Int, samples: Int, chirps: Int, type: RadarSampleType,
                        into output: UnsafeMutableBufferPointer<Float>) throws(PreprocessError) {
        let elements = try checkShape(rx: rx, samples: samples, chirps: chirps)
        let expected = elements * type.bytesPerSample
        guard cube.count == expected else { throw .sizeMismatch(modality: .radar, expected: expected, actual: cube.count) }
        guard output.count >= outputCount(samples: samples), let out = output.baseAddress else {
            throw .outputSize(modality: .radar, expected: outputCount(samples: samples), actual: output.count)
        }
        let plan = try planSet(rx: rx, samples: samples, chirps: chirps)
        plan.load(cube, type: type)
        plan.run(into: out, team: team)
        if parameters.normalization == .divideByMax {
            let n = outputCount(samples: samples)
            var peak: Float = 0
            for i in 0..<n where out[i] > peak { peak = out[i] }
            if peak > 0 {
                let inv = 1 / peak
                for i in 0..<n { out[i] *= inv }
            }
        }
    }

    /// Convenience: processes one cube into a new array.
    public func process(cube: [UInt8], rx: Int, samples: Int, chirps: Int, type: RadarSampleType) throws(PreprocessError) -> [Float] {
        try process(cube: cube[...], rx: rx, samples: samples, chirps: chirps, type: type)
    }

    /// Convenience: processes a cube read in place from a slice (e.g. of a received payload) into a new array.
    public func process(cube: ArraySlice<UInt8>, rx: Int, samples: Int, chirps: Int, type: RadarSampleType) throws(PreprocessError) -> [Float] {
        _ = try checkShape(rx: rx, samples: samples, chirps: chirps)
        var out = [Float](repeating: 0, count: outputCount(samples: samples))
        let result = cube.withUnsafeBytes { c in
            out.withUnsafeMutableBufferPointer { o in
                Result { () throws(PreprocessError) in
                    try process(cube: c, rx: rx, samples: samples, chirps: chirps, type: type, into: o)
                }
            }
        }
        try result.get()
        return out
    }

    /// Validates a cube shape against the limits and returns rx × samples × chirps.
    private func checkShape(rx: Int, samples: Int, chirps: Int) throws(PreprocessError) -> Int {
        guard rx > 0, samples > 0, chirps > 0 else {
            throw .badDimensions(modality: .radar, detail: "rx \(rx), samples \(samples), chirps \(chirps) must be positive")
        }
        guard rx <= parameters.angleBins else {
            throw .badDimensions(modality: .radar, detail: "rx \(rx) exceeds the angle FFT length \(parameters.angleBins)")
        }
        let (rs, o1) = rx.multipliedReportingOverflow(by: samples)
        let (elements, o2) = rs.multipliedReportingOverflow(by: chirps)
        guard !o1, !o2, elements <= parameters.maxElements, elements <= Int(Int32.max) / parameters.angleBins else {
            throw .badDimensions(modality: .radar, detail: "\(rx)x\(samples)x\(chirps) exceeds the limit of \(parameters.maxElements) samples")
        }
        return elements
    }

    private func planSet(rx: Int, samples: Int, chirps: Int) throws(PreprocessError) -> RadarPlanSet {
        if let index = plans.firstIndex(where: { $0.rx == rx && $0.samples == samples && $0.chirps == chirps }) {
            let found = plans.remove(at: index)
            plans.append(found)  // most recently used last
            return found
        }
        let made = try RadarPlanSet(rx: rx, samples: samples, chirps: chirps, angleBins: parameters.angleBins,
                                    measure: parameters.measureAnglePlan, members: team.size)
        if plans.count >= parameters.planCacheSize { plans.removeFirst() }
        plans.append(made)
        return made
    }
}

/// FFTW buffers and plans for one cube shape.
final class RadarPlanSet {
    let rx: Int, samples: Int, chirps: Int, angleBins: Int
    /// [rx, samples, chirps] complex working cube (range FFT is in place).
    private let cube: UnsafeMutablePointer<fftwf_complex>
    /// [chirps, angleBins] angle FFT input per team member: columns >= rx stay zero.
    private let angleIn: [UnsafeMutablePointer<fftwf_complex>]
    /// [chirps, angleBins] angle FFT output per team member.
    private let angleOut: [UnsafeMutablePointer<fftwf_complex>]
    /// Per-angle magnitude sums for one range bin, per team member.
    private let accumulator: [UnsafeMutablePointer<Float>]
    private let rangePlan: fftwf_plan
    private let anglePlan: fftwf_plan

    /// Plans for one cube shape, with angle buffers for `members` threads (the plan is planned on the
    /// first member's buffers and executed on each member's with `fftwf_execute_dft`, which is thread-safe).
    init(rx: Int, samples: Int, chirps: Int, angleBins: Int, measure: Bool, members: Int) throws(PreprocessError) {
        self.rx = rx; self.samples = samples; self.chirps = chirps; self.angleBins = angleBins
        let cubeCount = rx * samples * chirps, angleCount = angleBins * chirps
        let made: (UnsafeMutablePointer<fftwf_complex>, [UnsafeMutablePointer<fftwf_complex>], [UnsafeMutablePointer<fftwf_complex>],
                   fftwf_plan?, fftwf_plan?)? = fftwPlannerLock.withLock { _ in
            let ins = (0..<max(1, members)).compactMap { _ in fftwf_alloc_complex(angleCount) }
            let outs = (0..<max(1, members)).compactMap { _ in fftwf_alloc_complex(angleCount) }
            // Buffer counts first: the cube is allocated only when they succeeded (nothing leaks).
            guard ins.count == max(1, members), outs.count == max(1, members), let c = fftwf_alloc_complex(cubeCount) else {
                for p in ins + outs { fftwf_free(p) }
                return nil
            }
            let ai = ins[0], ao = outs[0]
            let flags = UInt32(FFTW_ESTIMATE)
            // Range FFT: length `samples` with stride `chirps`, repeated over rx and chirps.
            var dims = fftwf_iodim(n: Int32(samples), is: Int32(chirps), os: Int32(chirps))
            var loops = [fftwf_iodim(n: Int32(rx), is: Int32(samples * chirps), os: Int32(samples * chirps)),
                         fftwf_iodim(n: Int32(chirps), is: 1, os: 1)]
            let range = fftwf_plan_guru_dft(1, &dims, 2, &loops, c, c, FFTW_FORWARD, flags)
            // Angle FFT: contiguous length `angleBins`, repeated over chirps (distance angleBins).
            var n = Int32(angleBins)
            let angle = fftwf_plan_many_dft(1, &n, Int32(chirps), ai, nil, 1, Int32(angleBins), ao, nil, 1, Int32(angleBins),
                                            FFTW_FORWARD, measure ? UInt32(FFTW_MEASURE) : flags)
            return (c, ins, outs, range, angle)
        }
        guard let made, let range = made.3, let angle = made.4 else {
            fftwPlannerLock.withLock { _ in
                if let made {
                    fftwf_free(made.0)
                    for p in made.1 + made.2 { fftwf_free(p) }
                    if let p = made.3 { fftwf_destroy_plan(p) }
                    if let p = made.4 { fftwf_destroy_plan(p) }
                }
            }
            throw .fftPlan("rx \(rx), samples \(samples), chirps \(chirps), angle bins \(angleBins)")
        }
        cube = made.0; angleIn = made.1; angleOut = made.2; rangePlan = range; anglePlan = angle
        accumulator = made.1.map { _ in .allocate(capacity: angleBins) }
        for a in made.1 { UnsafeMutableRawPointer(a).initializeMemory(as: Float.self, repeating: 0, count: 2 * angleCount) }
    }

    deinit {
        fftwPlannerLock.withLock { _ in
            fftwf_destroy_plan(rangePlan); fftwf_destroy_plan(anglePlan)
            fftwf_free(cube)
            for p in angleIn + angleOut { fftwf_free(p) }
        }
        for a in accumulator { a.deallocate() }
    }

    /// Converts the little-endian wire samples into the complex working cube.
    func load(_ bytes: UnsafeRawBufferPointer, type: RadarSampleType) {
        let count = 2 * rx * samples * chirps
        let dst = UnsafeMutableRawPointer(cube).assumingMemoryBound(to: Float.self)
        switch type {
        case .cf32:
            #if _endian(little)
            if let base = bytes.baseAddress { UnsafeMutableRawPointer(dst).copyMemory(from: base, byteCount: 4 * count) }
            #else
            for i in 0..<count {
                dst[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
            #endif
        case .ci16:
            for i in 0..<count {
                dst[i] = Float(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
            }
        }
    }

    /// Runs range FFT, clutter removal, angle FFT, fftshift and magnitude summation into `out`; the
    /// range bins are shared out over `team` (each member uses its own angle buffers).
    func run(into out: UnsafeMutablePointer<Float>, team: WorkTeam) {
        fftwf_execute(rangePlan)
        let c = UnsafeMutableRawPointer(cube).assumingMemoryBound(to: Float.self)
        let members = min(team.size, angleIn.count)
        let parts = members > 1 && samples >= 16 ? members : 1
        team.forEachChunk(samples, parts: parts, granule: 8) { bins, member in
            angleTransform(c, bins: bins, member: member, into: out)
        }
    }

    /// Clutter removal, angle FFT, fftshift and magnitude sum for the range bins `bins`.
    private func angleTransform(_ c: UnsafeMutablePointer<Float>, bins: Range<Int>, member: Int, into out: UnsafeMutablePointer<Float>) {
        let inBuffer = angleIn[member], outBuffer = angleOut[member]
        let ai = UnsafeMutableRawPointer(inBuffer).assumingMemoryBound(to: Float.self)
        let ao = UnsafeMutableRawPointer(outBuffer).assumingMemoryBound(to: Float.self)
        let acc = accumulator[member]
        let invChirps = 1 / Float(chirps)
        let half = angleBins / 2, a2 = 2 * angleBins
        for s in bins {
            // Clutter removal and transpose into [chirps, angleBins] (rows ≥ rx stay zero).
            for r in 0..<rx {
                let row = c + 2 * ((r * samples + s) * chirps)
                var sumRe: Float = 0, sumIm: Float = 0
                for k in 0..<chirps { sumRe += row[2 * k]; sumIm += row[2 * k + 1] }
                let meanRe = sumRe * invChirps, meanIm = sumIm * invChirps
                var dst = ai + 2 * r
                for k in 0..<chirps {
                    dst[0] = row[2 * k] - meanRe
                    dst[1] = row[2 * k + 1] - meanIm
                    dst += a2
                }
            }
            fftwf_execute_dft(anglePlan, inBuffer, outBuffer)
            acc.update(repeating: 0, count: angleBins)
            var src = ao
            for _ in 0..<chirps {
                for a in 0..<angleBins {
                    let re = src[2 * a], im = src[2 * a + 1]
                    acc[a] += (re * re + im * im).squareRoot()
                }
                src += a2
            }
            for a in 0..<angleBins { out[((a + half) % angleBins) * samples + s] = acc[a] }
        }
    }
}
