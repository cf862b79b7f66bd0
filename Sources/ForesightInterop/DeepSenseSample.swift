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

/// `message` as MessagePack, with the writer sized for its payload up front (no regrowth for a 2 MB cube).
func encode(_ message: some WireMessage, payloadBytes: Int) -> [UInt8] {
    var writer = MessagePackWriter(capacity: payloadBytes + 512)
    message.encode(into: &writer)
    return writer.bytes
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

    init(directory: String, origin: GeodeticReference, frames: FrameIDs, columns: CSVColumns) {
        self.directory = directory
        self.origin = origin
        self.frames = frames
        self.columns = columns
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
            let bytes = try FileBytes.read(p, limit: Self.maxImageBytes)
            let size: (width: Int, height: Int)
            do { size = try JPEGHeader.dimensions(of: bytes) } catch let error as WireError { throw .image(path: p, reason: "not a readable JPEG: \(error.detail)") } catch { throw .image(path: p, reason: "\(error)") }
            guard size.width <= limits.maxImageDimension, size.height <= limits.maxImageDimension else {
                throw .image(path: p, reason: "\(size.width)×\(size.height) is beyond the \(limits.maxImageDimension)-pixel limit")
            }
            sample.imageSize = size
            sample.messages.append(EncodedMessage(type: .image, payload: encode(Image(header: header(frames.camera), width: size.width, height: size.height,
                                                                                      encoding: .jpeg, data: bytes), payloadBytes: bytes.count)))
        }
        run(.radar) { p throws(InteropError) in
            if p.lowercased().hasSuffix(".mat") {
                throw .unsupported(path: p, reason: "MATLAB radar files are not read; convert the folder once with "
                    + "`python3 -c \"import glob,numpy,scipy.io as s; [numpy.save(f[:-4]+'.npy', numpy.asarray(next(v for k,v in s.loadmat(f).items() if not k.startswith('__')), dtype='<c8')) for f in glob.glob('unit1/radar_data/*.mat')]\"` "
                    + "in the scenario folder and point the CSV's unit1_radar column at the .npy files (sed -i 's/\\.mat/.npy/' scenarioNN.csv)")
            }
            let bytes = try FileBytes.read(p, limit: Self.maxRadarBytes)
            let array = try NPYArray.parse(bytes, path: p)
            guard array.descr == "<c8" else { throw .npy(path: p, reason: "dtype \(array.descr); a radar cube must be complex64 (<c8)") }
            guard array.shape.count == 3 else { throw .npy(path: p, reason: "shape \(array.shape); a radar cube is [rx, samples, chirps]") }
            let (rx, samples, chirps) = (array.shape[0], array.shape[1], array.shape[2])
            guard (1...limits.maxRadarRx).contains(rx), (1...limits.maxRadarSamples).contains(samples), (1...limits.maxRadarChirps).contains(chirps) else {
                throw .npy(path: p, reason: "shape \(array.shape) is outside the radar limits (rx ≤ \(limits.maxRadarRx), samples ≤ \(limits.maxRadarSamples), chirps ≤ \(limits.maxRadarChirps))")
            }
            guard PackedArray.allFiniteFloat32(array.data) else { throw .npy(path: p, reason: "the cube holds NaN or infinite samples") }
            sample.radarShape = array.shape
            sample.messages.append(EncodedMessage(type: .radarCube, payload: encode(RadarCube(header: header(frames.radar), rx: rx, samples: samples, chirps: chirps,
                                                                                              dtype: .cf32, data: array.data), payloadBytes: array.data.count)))
        }
        run(.lidar) { p throws(InteropError) in
            let bytes = try FileBytes.read(p, limit: Self.maxLidarBytes, terminator: true)
            let cloud = try PLYCloud.parse(bytes, path: p, maxPoints: limits.maxPoints)
            sample.droppedPoints += cloud.droppedNonFinite
            sample.messages.append(EncodedMessage(type: .pointCloud, payload: encode(PointCloud(header: header(frames.lidar), fields: cloud.fields,
                                                                                                values: cloud.values), payloadBytes: cloud.values.count * 4)))
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
