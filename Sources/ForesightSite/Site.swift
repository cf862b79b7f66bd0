import ForesightCore
import Foundation

/// A site calibration: where the base station is and how each of its sensors is mounted and
/// configured. Loaded once from YAML (`Site.load(path:)`); see `docs/calibration.md`.
///
/// Frames: the site frame is local east-north-up metres around `origin`; every sensor pose is
/// given in it (see `Pose`).
public struct Site: Sendable, Equatable {
    /// Human-readable site name.
    public var name: String
    /// Geodetic origin of the site frame.
    public var origin: GeodeticReference
    /// Compass bearing (degrees clockwise from true north) of the base station's reference
    /// direction. Informational: each sensor pose carries its own yaw.
    public var headingDeg: Double
    /// The mmWave phased array and its codebook.
    public var mmwave: MmWaveArray
    /// The camera.
    public var camera: CameraCalibration
    /// The FMCW radar.
    public var radar: RadarCalibration
    /// The rotating LiDAR.
    public var lidar: LidarCalibration
    /// The GNSS receiver on the user equipment.
    public var gnss: GnssCalibration
    /// How the beam-power vector is reported and normalized.
    public var beamPower: BeamPowerCalibration

    /// Creates a site from its parts (normally use `load(path:)` or `parse(yaml:)`).
    public init(name: String, origin: GeodeticReference, headingDeg: Double, mmwave: MmWaveArray,
                camera: CameraCalibration, radar: RadarCalibration, lidar: LidarCalibration,
                gnss: GnssCalibration, beamPower: BeamPowerCalibration) {
        self.name = name
        self.origin = origin
        self.headingDeg = headingDeg
        self.mmwave = mmwave
        self.camera = camera
        self.radar = radar
        self.lidar = lidar
        self.gnss = gnss
        self.beamPower = beamPower
    }

    /// Loads and validates a site calibration file.
    public static func load(path: String) throws(ConfigError) -> Site {
        try read(ConfigNode.load(path: path))
    }

    /// Parses and validates site calibration YAML text; `source` names it in error messages.
    public static func parse(yaml: String, source: String = "site") throws(ConfigError) -> Site {
        try read(ConfigNode.parse(yaml: yaml, source: source))
    }

    /// Steering angle (radians, azimuth in the array's body frame, positive to the left) of
    /// every codebook beam, beam 0 first. See `MmWaveArray.steeringAngles()`.
    public func codebookSteeringAngles() -> [Double] {
        mmwave.steeringAngles()
    }

    static func read(_ root: ConfigNode) throws(ConfigError) -> Site {
        let map = try root.mapping()
        let originMap = try map.mapping("origin")
        let origin = GeodeticReference(latitude: try originMap.double("lat", in: -89.9...89.9),
                                       longitude: try originMap.double("lon", in: -180...180),
                                       altitude: try originMap.double("alt", default: 0, in: -1000...10000))
        try originMap.finish()
        let site = Site(
            name: try map.string("site"),
            origin: origin,
            headingDeg: try map.double("heading_deg", default: 0, in: 0...360),
            mmwave: try MmWaveArray.read(map.mapping("mmwave")),
            camera: try CameraCalibration.read(map.mapping(Modality.camera.rawValue)),
            radar: try RadarCalibration.read(map.mapping(Modality.radar.rawValue)),
            lidar: try LidarCalibration.read(map.mapping(Modality.lidar.rawValue)),
            gnss: try GnssCalibration.read(map.mapping(Modality.gnss.rawValue)),
            beamPower: try BeamPowerCalibration.read(map.mapping(Modality.beamPower.rawValue)))
        try map.finish()
        return site
    }
}

/// A uniform linear mmWave array with an oversampled DFT codebook.
///
/// Elements lie along the array's body y axis (left) at `spacing` wavelengths; the boresight is
/// body x. Beam `b` of `B` steers to `sin θ_b = -1 + (2b + 1) / B` scaled by `1 / (2·spacing)`
/// (uniform in spatial frequency, beam 0 furthest to the right), with weights
/// `w_b[n] = exp(j·2π·spacing·n·sin θ_b) / √N`.
public struct MmWaveArray: Sendable, Equatable {
    /// Carrier frequency, Hz.
    public var carrierHz: Double
    /// Number of array elements N.
    public var elements: Int
    /// Element spacing in wavelengths.
    public var spacingWavelengths: Double
    /// Number of codebook beams B (= N × oversampling).
    public var beams: Int
    /// Codebook oversampling factor.
    public var oversampling: Int
    /// Pose of the array (boresight = body x).
    public var pose: Pose

    /// Creates an array description.
    public init(carrierHz: Double, elements: Int, spacingWavelengths: Double, beams: Int, oversampling: Int, pose: Pose) {
        self.carrierHz = carrierHz
        self.elements = elements
        self.spacingWavelengths = spacingWavelengths
        self.beams = beams
        self.oversampling = oversampling
        self.pose = pose
    }

    /// Wavelength, metres.
    public var wavelength: Double { 299_792_458.0 / carrierHz }

    /// `sin θ_b` of every beam (may exceed ±1 in magnitude for spacing < 0.5; then clamped).
    public func steeringSines() -> [Double] {
        (0..<beams).map { b in
            let u = -1 + (2 * Double(b) + 1) / Double(beams)
            return max(-1, min(1, u / (2 * spacingWavelengths)))
        }
    }

    /// Steering angle of every beam, radians, in the array's body frame (positive to the left).
    public func steeringAngles() -> [Double] {
        steeringSines().map { asin($0) }
    }

    static func read(_ map: ConfigMapping) throws(ConfigError) -> MmWaveArray {
        let book = try map.mapping("codebook")
        let beams = try book.int("beams", in: 1...4096)
        let oversampling = try book.int("oversampling", default: 1, in: 1...64)
        try book.finish()
        let elements = try map.int("elements", in: 1...1024)
        guard beams == elements * oversampling else {
            throw .invalid(key: "mmwave.codebook.beams", reason: "must equal elements × oversampling (\(elements) × \(oversampling) = \(elements * oversampling), got \(beams))")
        }
        let array = MmWaveArray(carrierHz: try map.double("carrier_hz", in: 1e9...1e12),
                                elements: elements,
                                spacingWavelengths: try map.double("spacing_wavelengths", in: 0.05...4, positive: true),
                                beams: beams, oversampling: oversampling,
                                pose: try Pose.read(map.mapping("pose")))
        try map.finish()
        return array
    }
}

/// Pinhole camera intrinsics and pose. Image u grows to the right, v downwards; the optical axis
/// is the body x axis.
public struct CameraCalibration: Sendable, Equatable {
    /// Frame id stamped on images.
    public var frameID: String
    /// Image width, pixels.
    public var width: Int
    /// Image height, pixels.
    public var height: Int
    /// Focal length along u, pixels.
    public var fx: Double
    /// Focal length along v, pixels.
    public var fy: Double
    /// Principal point u, pixels.
    public var cx: Double
    /// Principal point v, pixels.
    public var cy: Double
    /// Pose of the camera.
    public var pose: Pose

    /// Creates a camera description.
    public init(frameID: String, width: Int, height: Int, fx: Double, fy: Double, cx: Double, cy: Double, pose: Pose) {
        self.frameID = frameID
        self.width = width
        self.height = height
        self.fx = fx
        self.fy = fy
        self.cx = cx
        self.cy = cy
        self.pose = pose
    }

    static func read(_ map: ConfigMapping) throws(ConfigError) -> CameraCalibration {
        let width = try map.int("width", in: 1...8192)
        let height = try map.int("height", in: 1...8192)
        let camera = CameraCalibration(frameID: try map.string("frame_id"), width: width, height: height,
                                       fx: try map.double("fx", in: 1...100_000), fy: try map.double("fy", in: 1...100_000),
                                       cx: try map.double("cx", in: 0...Double(width)), cy: try map.double("cy", in: 0...Double(height)),
                                       pose: try Pose.read(map.mapping("pose")))
        try map.finish()
        return camera
    }
}

/// FMCW radar chirp parameters and pose. Receive antennas lie along the body y axis at half a
/// wavelength (of the start frequency), rx 0 rightmost.
public struct RadarCalibration: Sendable, Equatable {
    /// Frame id stamped on radar cubes.
    public var frameID: String
    /// Chirp start frequency, Hz.
    public var startHz: Double
    /// Chirp slope, Hz per second.
    public var slopeHzPerS: Double
    /// ADC sample rate (complex samples), Hz.
    public var sampleRateHz: Double
    /// Receive antennas.
    public var rx: Int
    /// ADC samples per chirp.
    public var samples: Int
    /// Chirps per frame.
    public var chirps: Int
    /// Chirp repetition period, seconds.
    public var chirpPeriodS: Double
    /// Pose of the radar.
    public var pose: Pose

    /// Creates a radar description.
    public init(frameID: String, startHz: Double, slopeHzPerS: Double, sampleRateHz: Double, rx: Int, samples: Int,
                chirps: Int, chirpPeriodS: Double, pose: Pose) {
        self.frameID = frameID
        self.startHz = startHz
        self.slopeHzPerS = slopeHzPerS
        self.sampleRateHz = sampleRateHz
        self.rx = rx
        self.samples = samples
        self.chirps = chirps
        self.chirpPeriodS = chirpPeriodS
        self.pose = pose
    }

    /// Range covered by one range-FFT bin, metres: c·fs / (2·S·samples).
    public var rangeResolution: Double { 299_792_458.0 * sampleRateHz / (2 * slopeHzPerS * Double(samples)) }
    /// Maximum unambiguous range with complex sampling, metres: c·fs / (2·S).
    public var maxRange: Double { 299_792_458.0 * sampleRateHz / (2 * slopeHzPerS) }
    /// Wavelength at the start frequency, metres.
    public var wavelength: Double { 299_792_458.0 / startHz }
    /// Radial velocity covered by one Doppler bin, m/s: λ / (2·chirps·Tc).
    public var velocityResolution: Double { wavelength / (2 * Double(chirps) * chirpPeriodS) }

    static func read(_ map: ConfigMapping) throws(ConfigError) -> RadarCalibration {
        let radar = RadarCalibration(frameID: try map.string("frame_id"),
                                     startHz: try map.double("start_hz", in: 1e9...1e12),
                                     slopeHzPerS: try map.double("slope_hz_per_s", in: 1e9...1e15),
                                     sampleRateHz: try map.double("sample_rate_hz", in: 1e3...1e10),
                                     rx: try map.int("rx", in: 1...64),
                                     samples: try map.int("samples", in: 1...8192),
                                     chirps: try map.int("chirps", in: 1...8192),
                                     chirpPeriodS: try map.double("chirp_period_s", in: 1e-7...1e-2),
                                     pose: try Pose.read(map.mapping("pose")))
        guard radar.rx * radar.samples * radar.chirps <= 16 << 20 else {
            throw map.invalid("samples", "rx × samples × chirps must be at most 16 Mi samples (got \(radar.rx * radar.samples * radar.chirps))")
        }
        try map.finish()
        return radar
    }
}

/// Rotating multi-beam LiDAR parameters and pose. Beams are spread evenly over the vertical
/// field of view; columns evenly over 360° of azimuth starting at the body x axis.
public struct LidarCalibration: Sendable, Equatable {
    /// Frame id stamped on point clouds (points are in this body frame).
    public var frameID: String
    /// Number of laser beams (rows).
    public var beams: Int
    /// Vertical field of view, degrees `[min, max]`.
    public var verticalFovDeg: ClosedRange<Double>
    /// Azimuth columns per revolution.
    public var columns: Int
    /// Maximum range, metres.
    public var maxRangeM: Double
    /// Pose of the LiDAR.
    public var pose: Pose

    /// Creates a LiDAR description.
    public init(frameID: String, beams: Int, verticalFovDeg: ClosedRange<Double>, columns: Int, maxRangeM: Double, pose: Pose) {
        self.frameID = frameID
        self.beams = beams
        self.verticalFovDeg = verticalFovDeg
        self.columns = columns
        self.maxRangeM = maxRangeM
        self.pose = pose
    }

    /// Elevation angle of beam `index`, degrees.
    public func elevationDeg(beam index: Int) -> Double {
        guard beams > 1 else { return (verticalFovDeg.lowerBound + verticalFovDeg.upperBound) / 2 }
        return verticalFovDeg.lowerBound + (verticalFovDeg.upperBound - verticalFovDeg.lowerBound) * Double(index) / Double(beams - 1)
    }

    static func read(_ map: ConfigMapping) throws(ConfigError) -> LidarCalibration {
        let lidar = LidarCalibration(frameID: try map.string("frame_id"),
                                     beams: try map.int("beams", in: 1...512),
                                     verticalFovDeg: try map.interval("vertical_fov_deg", in: -90...90),
                                     columns: try map.int("columns", in: 1...16384),
                                     maxRangeM: try map.double("max_range_m", in: 0.1...10_000, positive: true),
                                     pose: try Pose.read(map.mapping("pose")))
        guard lidar.beams * lidar.columns <= 1 << 21 else {
            throw map.invalid("columns", "beams × columns must be at most 2 Mi rays (got \(lidar.beams * lidar.columns))")
        }
        try map.finish()
        return lidar
    }
}

/// The GNSS receiver on the user equipment.
public struct GnssCalibration: Sendable, Equatable {
    /// Frame id stamped on fixes.
    public var frameID: String

    /// Creates a GNSS description.
    public init(frameID: String) { self.frameID = frameID }

    static func read(_ map: ConfigMapping) throws(ConfigError) -> GnssCalibration {
        let gnss = GnssCalibration(frameID: try map.string("frame_id"))
        try map.finish()
        return gnss
    }
}

/// How beam powers are reported and how consumers normalize them.
public struct BeamPowerCalibration: Sendable, Equatable {
    /// Unit of the published power vector.
    public enum Unit: String, Sendable, Equatable, CaseIterable {
        /// Linear milliwatts.
        case mw
        /// dBm.
        case dbm
    }

    /// How a consumer normalizes a power vector before use.
    public enum Normalization: String, Sendable, Equatable, CaseIterable {
        /// Use the values as they are.
        case none
        /// Divide (linear) by the vector's maximum.
        case max
        /// dB relative to `floor_dbm`, clipped at 0.
        case floor
    }

    /// Frame id stamped on beam-power vectors.
    public var frameID: String
    /// Unit of the published vector.
    public var unit: Unit
    /// Power floor (roughly the receiver noise floor), dBm.
    public var floorDbm: Double
    /// Normalization consumers apply.
    public var normalization: Normalization

    /// Creates a beam-power description.
    public init(frameID: String, unit: Unit, floorDbm: Double, normalization: Normalization) {
        self.frameID = frameID
        self.unit = unit
        self.floorDbm = floorDbm
        self.normalization = normalization
    }

    static func read(_ map: ConfigMapping) throws(ConfigError) -> BeamPowerCalibration {
        let unitText = try map.string("unit", oneOf: Unit.allCases.map(\.rawValue))
        let normText = try map.string("normalization", default: "max", oneOf: Normalization.allCases.map(\.rawValue))
        let calibration = BeamPowerCalibration(frameID: try map.string("frame_id", default: "mmwave"),
                                               unit: Unit(rawValue: unitText) ?? .mw,
                                               floorDbm: try map.double("floor_dbm", in: -200...50),
                                               normalization: Normalization(rawValue: normText) ?? .max)
        try map.finish()
        return calibration
    }
}
