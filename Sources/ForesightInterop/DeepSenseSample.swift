import Foundation
import ForesightSite
import ForesightWire

/// A CSV row turned into a sample plan: its stamp, sequence position and file cells.
struct SamplePlan: Sendable {
    /// A problem that makes the whole row unusable (bad or out-of-order time stamp).
    struct RowProblem: Sendable { var kind: String; var text: String }

    var line: Int
    var fields: [String]
    var stamp: Int64 = 0
    var seq: UInt32 = 0
    var newSequence = false
    /// The row's `seq_index` value ("" without the column).
    var sequenceValue = ""
    var problem: RowProblem?
}

/// Turns CSV rows into stamps and sequence positions, in order (runs on the loader thread).
///
/// The stamp is `date + time of day − UTC offset`; a time of day more than 12 h earlier than the
/// previous row's means the drive passed midnight (one day is added). A row whose stamp is not
/// after the previous accepted row's is skipped as `out_of_order`. `seq` counts rows within a
/// sequence and restarts at 0 when `seq_index` changes.
struct SamplePlanner: Sendable {
    let columns: CSVColumns
    let dayBase: Int64
    let utcOffsetNs: Int64
    let synthetic: Bool
    private var lastTimeOfDay: Int64?
    private var dayOffset: Int64 = 0
    private var lastStamp: Int64?
    private var sequence: String?
    private var seq: UInt32 = 0
    private var rowCount: Int64 = 0

    init(columns: CSVColumns, dayBase: Int64, utcOffsetNs: Int64, synthetic: Bool) {
        self.columns = columns
        self.dayBase = dayBase
        self.utcOffsetNs = utcOffsetNs
        self.synthetic = synthetic
    }

    mutating func plan(fields: [String], line: Int) -> SamplePlan {
        var plan = SamplePlan(line: line, fields: fields)
        defer { rowCount += 1 }
        let sequenceValue = columns.value("seq_index", in: fields) ?? ""
        plan.sequenceValue = sequenceValue
        if sequence == nil || sequenceValue != sequence {
            plan.newSequence = true
            sequence = sequenceValue
            seq = 0
        } else {
            seq &+= 1
        }
        plan.seq = seq
        let stamp: Int64
        if synthetic {
            stamp = dayBase + rowCount * 100_000_000
        } else {
            guard let cell = columns.value("time_stamp", in: fields), let tod = DeepSenseTime.timeOfDay(cell) else {
                plan.problem = .init(kind: "bad_time_stamp",
                                     text: "time_stamp '\(columns.value("time_stamp", in: fields) ?? "")' is not hours-minutes-seconds.micro (e.g. ['10-12-35.178930'])")
                return plan
            }
            if let last = lastTimeOfDay, tod < last - 12 * 3_600_000_000_000 { dayOffset += 1 }
            stamp = dayBase + dayOffset * 86_400_000_000_000 + tod - utcOffsetNs
            lastTimeOfDay = tod
        }
        if let lastStamp, stamp <= lastStamp {
            plan.problem = .init(kind: "out_of_order",
                                 text: "stamp \(isoTime(stamp)) is not after the previous row's \(isoTime(lastStamp)) (rows out of order or repeated)")
            return plan
        }
        lastStamp = stamp
        plan.stamp = stamp
        return plan
    }
}

/// Payload buffers the writing stage hands back once their messages are in the bag, for the
/// loader to encode the next samples into: after the first few samples the import allocates
/// (and the kernel zero-fills and maps) no new memory per sample. At most `perType` buffers are
/// kept per message type, so the pool is bounded by a few samples' worth of payloads.
final class PayloadPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [MessageType: [[UInt8]]] = [:]
    private let perType: Int

    init(perType: Int = 8) { self.perType = perType }

    /// A buffer that held a payload of `type` before (empty when there is none).
    func take(_ type: MessageType) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        return free[type]?.popLast() ?? []
    }

    /// Gives a payload buffer back (dropped when the pool holds enough of its type).
    func give(_ type: MessageType, _ buffer: consuming [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        if free[type, default: []].count < perType { free[type, default: []].append(buffer) }
    }
}

/// Runs `body` on the first `count` bytes of `buffer`, keeping the typed error.
func withPrefix<R>(_ buffer: [UInt8], _ count: Int, _ body: (UnsafeRawBufferPointer) throws(InteropError) -> R) throws(InteropError) -> R {
    let result: Result<R, InteropError> = buffer.withUnsafeBytes { raw in
        do throws(InteropError) { return .success(try body(UnsafeRawBufferPointer(rebasing: raw[0..<count]))) } catch { return .failure(error) }
    }
    return try result.get()
}

/// One encoded message of a sample.
struct EncodedMessage: Sendable {
    var type: MessageType
    var payload: [UInt8]
}

/// A sample read from disk: its encoded messages and what went wrong on the way.
struct LoadedSample: Sendable {
    struct Problem: Sendable { var modality: Modality; var error: InteropError }
    struct Note: Sendable { var key: String; var text: String }

    var plan: SamplePlan
    var messages: [EncodedMessage] = []
    var problems: [Problem] = []
    var notes: [Note] = []
    var nanEntries = 0
    var labelDisagrees = false
    var droppedPoints = 0
    /// UE position in the site frame (for the site file's guessed boresight).
    var ue: (east: Double, north: Double)?
    var imageSize: (width: Int, height: Int)?
    var radarShape: [Int]?
    var beams: Int?
}

/// Reads and encodes the files of one sample (runs on the loader thread, one sample at a time).
struct SampleLoader: Sendable {
    let directory: String
    let origin: GeodeticReference
    let frames: FrameIDs
    let columns: CSVColumns
    let limits = WireLimits.default

    /// Largest files accepted per modality.
    static let maxImageBytes = 64 << 20, maxRadarBytes = 512 << 20, maxLidarBytes = 512 << 20, maxTextBytes = 1 << 20

    private final class Previous: @unchecked Sendable {
        var ue: (stamp: Int64, east: Double, north: Double, heading: Double)?
    }
    private let previous = Previous()

    /// Buffers reused from sample to sample (the loader runs on one thread): file bytes, the
    /// radar file, the LiDAR values.
    private final class Scratch: @unchecked Sendable {
        var file: [UInt8] = []
        var radar: [UInt8] = []
        var points: [Float] = []
    }
    private let scratch = Scratch()
    /// Where encoded payloads come from (and the writer gives them back to).
    let pool: PayloadPool
    /// The variable to read from `.mat` radar files (nil: MATFile's rule — `data`, else the only numeric array).
    let radarVariable: String?

    init(directory: String, origin: GeodeticReference, frames: FrameIDs, columns: CSVColumns, pool: PayloadPool = PayloadPool(),
         radarVariable: String? = nil) {
        self.directory = directory
        self.origin = origin
        self.frames = frames
        self.columns = columns
        self.pool = pool
        self.radarVariable = radarVariable
    }

    /// Encodes one message into a pooled buffer sized for `payloadBytes` plus its fields.
    private func encoded(_ type: MessageType, payloadBytes: Int, _ body: (inout MessagePackWriter) -> Void) -> EncodedMessage {
        var writer = MessagePackWriter(reusing: pool.take(type), capacity: payloadBytes + 512)
        body(&writer)
        return EncodedMessage(type: type, payload: writer.bytes)
    }

    /// Checks a radar cube's shape and samples and encodes it from a borrowed buffer.
    private func radarMessage(_ p: String, shape: [Int], data: UnsafeRawBufferPointer, header: Header) throws(InteropError) -> EncodedMessage {
        guard shape.count == 3 else { throw .npy(path: p, reason: "shape \(shape); a radar cube is [rx, samples, chirps]") }
        let (rx, samples, chirps) = (shape[0], shape[1], shape[2])
        guard (1...limits.maxRadarRx).contains(rx), (1...limits.maxRadarSamples).contains(samples), (1...limits.maxRadarChirps).contains(chirps) else {
            throw .npy(path: p, reason: "shape \(shape) is outside the radar limits (rx ≤ \(limits.maxRadarRx), samples ≤ \(limits.maxRadarSamples), chirps ≤ \(limits.maxRadarChirps))")
        }
        guard PackedArray.allFiniteFloat32(data) else { throw .npy(path: p, reason: "the cube holds NaN or infinite samples") }
        return encoded(.radarCube, payloadBytes: data.count) { w in
            RadarCube.encode(header: header, rx: rx, samples: samples, chirps: chirps, dtype: .cf32, data: data, into: &w)
        }
    }

    /// The files a planned row names (for read-ahead; unresolvable cells are left to `load`).
    func paths(_ plan: SamplePlan) -> [String] {
        guard plan.problem == nil else { return [] }
        return Modality.allCases.compactMap { m in
            columns.value(m.column, in: plan.fields).flatMap { resolvePath($0, directory: directory) }
        }
    }

    func load(_ plan: SamplePlan) -> LoadedSample {
        var sample = LoadedSample(plan: plan)
        guard plan.problem == nil else { return sample }
        if plan.newSequence { previous.ue = nil }
        func header(_ frame: String) -> Header { Header(stamp: plan.stamp, seq: plan.seq, frameID: frame) }
        func path(_ m: Modality) -> String? {
            guard columns.has(m.column) else { return nil }
            guard let cell = columns.value(m.column, in: plan.fields), let p = resolvePath(cell, directory: directory) else {
                sample.problems.append(.init(modality: m, error: .missingFile(path: "(empty \(m.column) cell)")))
                return nil
            }
            return p
        }
        func run(_ m: Modality, _ body: (String) throws(InteropError) -> Void) {
            guard let p = path(m) else { return }
            do { try body(p) } catch { sample.problems.append(.init(modality: m, error: error)) }
        }

        run(.camera) { p throws(InteropError) in
            let count = try FileBytes.read(p, limit: Self.maxImageBytes, into: &scratch.file)
            let message = try withPrefix(scratch.file, count) { jpeg throws(InteropError) -> EncodedMessage in
                let size: (width: Int, height: Int)
                do throws(WireError) { size = try JPEGHeader.dimensions(of: jpeg) } catch { throw .image(path: p, reason: "not a readable JPEG: \(error.detail)") }
                guard size.width <= limits.maxImageDimension, size.height <= limits.maxImageDimension else {
                    throw .image(path: p, reason: "\(size.width)×\(size.height) is beyond the \(limits.maxImageDimension)-pixel limit")
                }
                sample.imageSize = size
                return encoded(.image, payloadBytes: count) { w in
                    Image.encode(header: header(frames.camera), width: size.width, height: size.height, encoding: .jpeg, data: jpeg, into: &w)
                }
            }
            sample.messages.append(message)
        }
        run(.radar) { p throws(InteropError) in
            if p.lowercased().hasSuffix(".mat") {
                // MATLAB radar files (some scenarios): the cube of the variable chosen by MATFile's rule.
                let bytes = try FileBytes.read(p, limit: Self.maxRadarBytes)
                let cube = try MATFile.readComplex64(bytes, path: p, variable: radarVariable)
                guard cube.shape.count == 3 else {
                    throw .mat(path: p, reason: "variable '\(cube.name)' has shape \(cube.shape); a radar cube is [rx, samples, chirps]")
                }
                let radarHeader = header(frames.radar)
                let message = try withPrefix(cube.data, cube.data.count) { data throws(InteropError) in
                    do throws(InteropError) {
                        return try radarMessage(p, shape: cube.shape, data: data, header: radarHeader)
                    } catch {
                        if case .npy(_, let reason) = error { throw .mat(path: p, reason: "variable '\(cube.name)': \(reason)") }
                        throw error
                    }
                }
                sample.radarShape = cube.shape
                sample.messages.append(message)
                return
            }
            // The file is read into a reused buffer and its elements go from there straight into
            // the message: one copy of the 2 MB cube, no fresh memory per sample.
            let count = try FileBytes.read(p, limit: Self.maxRadarBytes, into: &scratch.radar)
            let radarHeader = header(frames.radar)
            let (message, shape) = try withPrefix(scratch.radar, count) { file throws(InteropError) -> (EncodedMessage, [Int]) in
                let npy = try NPYArray.header(file.assumingMemoryBound(to: UInt8.self), path: p)
                guard npy.descr == "<c8" else { throw .npy(path: p, reason: "dtype \(npy.descr); a radar cube must be complex64 (<c8)") }
                if npy.fortranOrder && npy.shape.count > 1 {  // rare: reorder through a copy
                    let array = try NPYArray.parse(Array(file), path: p)
                    return (try withPrefix(array.data, array.data.count) { data throws(InteropError) in
                        try radarMessage(p, shape: array.shape, data: data, header: radarHeader)
                    }, array.shape)
                }
                return (try radarMessage(p, shape: npy.shape, data: UnsafeRawBufferPointer(rebasing: file[npy.dataStart...]), header: radarHeader),
                        npy.shape)
            }
            sample.radarShape = shape
            sample.messages.append(message)
        }
        run(.lidar) { p throws(InteropError) in
            let count = try FileBytes.read(p, limit: Self.maxLidarBytes, into: &scratch.file, terminator: true)
            let parsed: Result<PLYCloud.Layout, InteropError> = scratch.file.withUnsafeBufferPointer { buffer in
                do throws(InteropError) {
                    return .success(try PLYCloud.parse(UnsafeBufferPointer(rebasing: buffer[0...count]), path: p, maxPoints: limits.maxPoints,
                                                       into: &scratch.points))
                } catch { return .failure(error) }
            }
            let layout = try parsed.get()
            sample.droppedPoints += layout.declared - layout.kept
            let valueCount = layout.kept * layout.fields.count
            #if _endian(little)
            let message = scratch.points.withUnsafeBytes { raw in
                encoded(.pointCloud, payloadBytes: valueCount * 4) { w in
                    PointCloud.encode(header: header(frames.lidar), fields: layout.fields, count: layout.kept,
                                      data: UnsafeRawBufferPointer(rebasing: raw[0..<(valueCount * 4)]), into: &w)
                }
            }
            #else
            let message = EncodedMessage(type: .pointCloud, payload: PointCloud(header: header(frames.lidar), fields: layout.fields,
                                                                                values: Array(scratch.points[0..<valueCount])).encoded())
            #endif
            sample.messages.append(message)
        }
        run(.gnss) { p throws(InteropError) in
            let fix = try readLatLon(p).get()
            let usable = fix.lat.isFinite && fix.lon.isFinite
            let message = GnssFix(header: header(frames.gnss), lat: fix.lat, lon: fix.lon, alt: .nan,
                                  hdop: usable ? DeepSenseDefaults.hdop : .nan, fix: usable ? .threeD : .none)
            sample.messages.append(EncodedMessage(type: .gnssFix, payload: message.encoded()))
            guard usable else {
                sample.notes.append(.init(key: "truth/ue: no_gps_fix", text: "\(p): the UE position is NaN — sensor/gnss sent without a fix, no truth/ue"))
                previous.ue = nil
                return
            }
            let local = origin.toLocal(lat: fix.lat, lon: fix.lon)
            var ve = 0.0, vn = 0.0, heading = previous.ue?.heading ?? 0
            if let prev = previous.ue {
                let dt = Double(plan.stamp - prev.stamp) / 1e9
                if dt > 0, dt <= 1 {
                    ve = (local.east - prev.east) / dt
                    vn = (local.north - prev.north) / dt
                    if (ve * ve + vn * vn).squareRoot() > 0.2 { heading = atan2(vn, ve) }
                }
            }
            previous.ue = (plan.stamp, local.east, local.north, heading)
            sample.ue = local
            sample.messages.append(EncodedMessage(type: .truthUE, payload: TruthUE(header: header(frames.site), east: local.east, north: local.north,
                                                                                   velocityEast: ve, velocityNorth: vn, heading: heading).encoded()))
        }
        run(.beamPower) { p throws(InteropError) in
            let bytes = try FileBytes.read(p, limit: Self.maxTextBytes, terminator: true)
            let values: [Double]
            switch NumberList.parse(bytes, maxCount: limits.maxBeams) {
            case .failure(let reason): throw .text(path: p, reason: "power file: \(reason)")
            case .success(let v): values = v
            }
            guard !values.isEmpty else { throw .text(path: p, reason: "power file holds no numbers") }
            var power = [Float](repeating: 0, count: values.count)
            var nan = 0
            var best: Int? = nil
            for (i, v) in values.enumerated() {
                let f = Float(v)
                if f.isNaN { nan += 1 } else if !f.isFinite || f < 0 {
                    throw .text(path: p, reason: "power[\(i)] = \(v): linear power must be finite and not negative")
                }
                power[i] = f
                if !f.isNaN, best == nil || f > power[best!] { best = i }
            }
            sample.nanEntries = nan
            sample.beams = power.count
            sample.messages.append(EncodedMessage(type: .beamPower, payload: BeamPower(header: header(frames.beamPower), power: power, unit: .mw).encoded()))
            var label: Int? = nil
            if let cell = columns.value("unit1_beam", in: plan.fields) {
                if let v = Double(cell.trimmingCharacters(in: CharacterSet(charactersIn: "[]'\" "))), v == v.rounded(), v >= 1, v <= Double(power.count) {
                    label = Int(v) - 1
                } else {
                    sample.notes.append(.init(key: "truth/beam: bad_label", text: "unit1_beam '\(cell)' is not a beam number 1…\(power.count); using the argmax"))
                }
            }
            if let label, let best, label != best, power[label] != power[best] { sample.labelDisagrees = true }
            guard let chosen = label ?? best else {
                sample.notes.append(.init(key: "truth/beam: all_nan", text: "\(p): every power is NaN and there is no unit1_beam label — no truth/beam"))
                return
            }
            sample.messages.append(EncodedMessage(type: .truthBeam, payload: TruthBeam(header: header(frames.beamPower), best: chosen, power: power).encoded()))
        }
        return sample
    }
}

/// Values the DeepSense files do not carry, filled in the same way for every sample.
public enum DeepSenseDefaults {
    /// HDOP of the UE fixes (DeepSense records none; 1.0 = "good").
    public static let hdop = 1.0
}
