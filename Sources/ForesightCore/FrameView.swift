import Foundation

/// One radar detection in the site frame, as seen from the radar's position.
public struct RadarDetection: Sendable, Hashable, Codable {
    /// Range from the radar, metres.
    public var range: Double
    /// Azimuth, radians counter-clockwise from east (site frame).
    public var azimuth: Double
    /// Detection power (linear, arbitrary units; only compared against a threshold by the daemon).
    public var power: Double

    /// Creates a detection.
    public init(range: Double, azimuth: Double, power: Double) {
        self.range = range
        self.azimuth = azimuth
        self.power = power
    }

    /// The detection's east/north position given the radar's east/north position.
    public func position(from origin: SIMD2<Double>) -> SIMD2<Double> {
        origin + SIMD2(range * cos(azimuth), range * sin(azimuth))
    }
}

/// The radar detections of one frame together with the radar's position in the site frame.
public struct RadarDetections: Sendable, Hashable, Codable {
    /// Radar position, east/north metres in the site frame.
    public var origin: SIMD2<Double>
    /// The detections.
    public var detections: [RadarDetection]

    /// Creates a detection list.
    public init(origin: SIMD2<Double>, detections: [RadarDetection]) {
        self.origin = origin
        self.detections = detections
    }
}

/// One preprocessed frame as every predictor reads it — the classical predictors (ForesightPredict)
/// and the learned model's inference session (ForesightInference) alike: a view of the front end's
/// `PreprocessedFrame`, holding the same arrays (copy-on-write, nothing copied), built by the one
/// `ObservationBuilder` the daemon and `foresight dataset` share.
///
/// Every modality is optional: `nil` means it is missing from this frame (and `missing` names it).
/// Coordinates are in the site frame: x = east, y = north, z = up, metres. The classical predictor
/// reads `gnss`, `beamPowerDBm`, `lidarPoints` and `radar`; the learned model reads the model
/// inputs `camera`, `radarMap`, `lidarDepth`, `gnss`, `beamPowerNormalized` and `beamPowerDBm`.
public struct FrameView: Sendable, Equatable {
    /// Frame stamp, nanoseconds since the Unix epoch.
    public var stamp: Int64
    /// UE position (east, north) in metres, or nil when the fix is missing or has no fix.
    public var gnss: SIMD2<Double>?
    /// Received power of every beam in dBm (NaN already floored by preprocessing), or nil.
    public var beamPowerDBm: [Float]?
    /// LiDAR points in the site frame (already transformed with the LiDAR pose), or nil.
    public var lidarPoints: [SIMD3<Float>]?
    /// The same points bucketed by east/north cell for searches around a position, or nil (then
    /// searches scan `lidarPoints`). Built once per frame by the daemon's observation builder.
    public var lidarGrid: LidarGrid?
    /// Radar detections, or nil when radar is missing or not turned into detections.
    public var radar: RadarDetections?
    /// Camera tensor `[C, H, W]` (normalized) for a learned model, or nil.
    public var camera: [Float]?
    /// Radar range-angle map `[angle, range]` in [0, 1] for a learned model, or nil.
    public var radarMap: [Float]?
    /// LiDAR depth image `[rows, cols]` for a learned model, or nil.
    public var lidarDepth: [Float]?
    /// Beam-power vector as the beam-power preprocessor normalized it (the learned model's token input), or nil.
    public var beamPowerNormalized: [Float]?
    /// Modalities absent from this frame.
    public var missing: Set<Modality>
    /// Acquisition stamp of the GNSS fix, ns (nil = `stamp`). Members of a synchronized frame can
    /// be tens of milliseconds apart; giving their own stamps keeps fast angular motion consistent.
    public var gnssStamp: Int64?
    /// Acquisition stamp of the beam-power scan, ns (nil = `stamp`).
    public var beamPowerStamp: Int64?

    /// Creates a view; modalities left nil are missing.
    public init(stamp: Int64, gnss: SIMD2<Double>? = nil, beamPowerDBm: [Float]? = nil,
                lidarPoints: [SIMD3<Float>]? = nil, radar: RadarDetections? = nil,
                camera: [Float]? = nil, radarMap: [Float]? = nil, lidarDepth: [Float]? = nil,
                beamPowerNormalized: [Float]? = nil, missing: Set<Modality> = [],
                gnssStamp: Int64? = nil, beamPowerStamp: Int64? = nil) {
        self.stamp = stamp
        self.gnss = gnss
        self.beamPowerDBm = beamPowerDBm
        self.lidarPoints = lidarPoints
        self.radar = radar
        self.camera = camera
        self.radarMap = radarMap
        self.lidarDepth = lidarDepth
        self.beamPowerNormalized = beamPowerNormalized
        self.missing = missing
        self.gnssStamp = gnssStamp
        self.beamPowerStamp = beamPowerStamp
    }
}

extension FrameView {
    /// The GNSS fix when it is usable (both coordinates finite), else nil.
    public var finiteGNSS: SIMD2<Double>? {
        gnss.flatMap { $0.x.isFinite && $0.y.isFinite ? $0 : nil }
    }

    /// This view as it would be with `modality` absent (a dead sensor): the modality's
    /// fields are nil and it is in ``missing``.
    public func removing(_ modality: Modality) -> FrameView {
        var o = self
        o.missing.insert(modality)
        switch modality {
        case .camera: o.camera = nil
        case .radar: o.radar = nil; o.radarMap = nil
        case .lidar: o.lidarPoints = nil; o.lidarGrid = nil; o.lidarDepth = nil
        case .gnss: o.gnss = nil; o.gnssStamp = nil
        case .beamPower: o.beamPowerDBm = nil; o.beamPowerNormalized = nil; o.beamPowerStamp = nil
        }
        return o
    }
}
