import ForesightSite
import Foundation

/// A simulated scene: the street, the UE's driving behaviour, other traffic, sensor timing and
/// the parameters of every sensor model. Loaded from YAML (e.g. `launch/scenarios/street.yaml`);
/// every key is documented in `docs/simulator.md`.
public struct Scenario: Sendable, Equatable {
    /// Direction of travel of a lane.
    public enum Direction: String, Sendable, Equatable {
        /// Towards +east.
        case east
        /// Towards -east.
        case west

        /// +1 for east, -1 for west.
        public var sign: Double { self == .east ? 1 : -1 }
    }

    /// One traffic lane parallel to the east axis.
    public struct Lane: Sendable, Equatable {
        /// Lane centre, metres north of the origin.
        public var north: Double
        /// Direction of travel.
        public var direction: Direction
        /// Range of cruise speeds for traffic in this lane, m/s.
        public var speed: ClosedRange<Double>
    }

    /// A building facade: a vertical plane `north = const` along the whole street.
    public struct Facade: Sendable, Equatable {
        /// Plane position, metres north of the origin.
        public var north: Double
        /// Height, metres.
        public var height: Double
        /// Loss of a reflection off this facade, dB.
        public var reflectionLossDb: Double
        /// Base colour in the camera image.
        public var color: SIMD3<Double>
    }

    /// A class of vehicle.
    public struct VehicleClass: Sendable, Equatable {
        /// Name (car, truck, ...).
        public var name: String
        /// Relative spawn probability.
        public var probability: Double
        /// `[length, width, height]`, metres.
        public var size: SIMD3<Double>
        /// Body colour, 0...255.
        public var color: SIMD3<Double>
        /// Radar cross-section of each body scatterer, m².
        public var rcs: Double
    }

    /// How the UE drives its passes.
    public struct UEBehaviour: Sendable, Equatable {
        /// The UE's own vehicle.
        public var vehicle: VehicleClass
        /// Antenna height above ground, metres.
        public var antennaHeight: Double
        /// Cruise speed range, m/s.
        public var speed: ClosedRange<Double>
        /// Acceleration/deceleration magnitude range, m/s².
        public var acceleration: ClosedRange<Double>
        /// Probability that a pass contains a stop.
        public var stopProbability: Double
        /// Stop duration range, s.
        public var stopDuration: ClosedRange<Double>
        /// Where stops happen, metres east.
        public var stopEast: ClosedRange<Double>
        /// Probability that a pass changes speed half way (when it does not stop).
        public var speedChangeProbability: Double
        /// Probability that a pass contains a lane change.
        public var laneChangeProbability: Double
        /// Lane change duration range, s.
        public var laneChangeDuration: ClosedRange<Double>
        /// Pause between passes, s.
        public var gap: ClosedRange<Double>
    }

    /// Timing of one sensor stream.
    public struct SensorTiming: Sendable, Equatable {
        /// Nominal rate, Hz.
        public var rateHz: Double
        /// Phase offset of the first acquisition after the start, s.
        public var phase: Double
        /// Standard deviation of the acquisition time jitter, s (clipped at 3σ).
        public var jitter: Double
        /// Probability that a message is dropped (never published).
        public var dropProbability: Double
    }

    /// Scene name.
    public var name: String
    /// Default seed (overridable on the command line).
    public var seed: UInt64
    /// Simulated time of the start, ns since the Unix epoch.
    public var startTimeNs: Int64
    /// The street runs along east between these bounds, metres.
    public var streetEast: ClosedRange<Double>
    /// Traffic lanes.
    public var lanes: [Lane]
    /// Lane width, metres (road markings, lane change distance).
    public var laneWidth: Double
    /// Building facades.
    public var facades: [Facade]
    /// The UE.
    public var ue: UEBehaviour
    /// Traffic spawn rate per lane, vehicles per minute.
    public var trafficPerMinute: Double
    /// Minimum time between two spawns in one lane, s.
    public var minHeadway: Double
    /// Traffic vehicle classes.
    public var classes: [VehicleClass]
    /// Range of the loss a vehicle body adds to a path through it, dB.
    public var blockageLossDb: ClosedRange<Double>
    /// Transmit power, dBm.
    public var txPowerDbm: Double
    /// UE antenna gain, dBi.
    public var ueGainDbi: Double
    /// Receiver noise power per beam measurement, dBm.
    public var noiseDbm: Double
    /// Whether first-order facade reflections are modelled.
    public var reflections: Bool
    /// Timing of each sensor stream.
    public var timing: [SensorKind: SensorTiming]
    /// JPEG quality, 1...100.
    public var jpegQuality: Int
    /// Radar thermal noise standard deviation per I/Q component.
    public var radarNoiseSigma: Double
    /// Radar amplitude scale: a 1 m² scatterer at 1 m has this IF amplitude.
    public var radarAmplitudeScale: Double
    /// Radar azimuth field of view half-angle, degrees.
    public var radarFovDeg: Double
    /// LiDAR range noise standard deviation, metres.
    public var lidarRangeNoise: Double
    /// GNSS bias standard deviation per axis, metres (first-order Gauss–Markov).
    public var gnssBiasSigma: Double
    /// GNSS bias correlation time, s.
    public var gnssBiasTau: Double
    /// GNSS white noise standard deviation per axis, metres.
    public var gnssWhiteSigma: Double
    /// Dropouts started per minute.
    public var gnssDropoutsPerMinute: Double
    /// Dropout duration range, s.
    public var gnssDropoutDuration: ClosedRange<Double>
    /// Reported horizontal dilution of precision.
    public var gnssHdop: Double

    /// Loads and validates a scenario file.
    public static func load(path: String) throws(ConfigError) -> Scenario {
        try read(ConfigNode.load(path: path))
    }

    /// Parses and validates scenario YAML text.
    public static func parse(yaml: String, source: String = "scenario") throws(ConfigError) -> Scenario {
        try read(ConfigNode.parse(yaml: yaml, source: source))
    }

    static func color(_ map: ConfigMapping, _ key: String, default value: [Double]) throws(ConfigError) -> SIMD3<Double> {
        let c = try map.doubles(key, count: 3, default: value)
        for v in c where !(0...255).contains(v) { throw map.invalid(key, "colour components must be within 0...255") }
        return SIMD3(c[0], c[1], c[2])
    }

    static func readClass(_ node: ConfigNode) throws(ConfigError) -> VehicleClass {
        let map = try node.mapping()
        let size = try map.doubles("size_m", count: 3)
        for v in size where !(0.2...30).contains(v) { throw map.invalid("size_m", "each dimension must be within 0.2...30 m") }
        let result = VehicleClass(name: try map.string("name"),
                                  probability: try map.double("probability", default: 1, in: 0...1e6),
                                  size: SIMD3(size[0], size[1], size[2]),
                                  color: try color(map, "color_rgb", default: [180, 180, 180]),
                                  rcs: try map.double("rcs_m2", default: 10, in: 0...1e4))
        try map.finish()
        return result
    }

    static func readTiming(_ map: ConfigMapping, _ key: String, phase: Double) throws(ConfigError) -> SensorTiming {
        guard let node = map.optional(key) else {
            return SensorTiming(rateHz: 10, phase: phase, jitter: 0.002, dropProbability: 0)
        }
        let m = try node.mapping()
        let timing = SensorTiming(rateHz: try m.double("rate_hz", default: 10, in: 0.1...1000),
                                  phase: try m.double("phase_ms", default: phase * 1000, in: 0...10_000) / 1000,
                                  jitter: try m.double("jitter_ms", default: 2, in: 0...1000) / 1000,
                                  dropProbability: try m.double("drop_probability", default: 0, in: 0...1))
        guard timing.jitter * 3 < 0.5 / timing.rateHz else {
            throw m.invalid("jitter_ms", "3 × jitter must stay below half the period so that stamps stay in order")
        }
        try m.finish()
        return timing
    }

    static func read(_ root: ConfigNode) throws(ConfigError) -> Scenario {
        let map = try root.mapping()
        let name = try map.string("scenario")
        let seed = try map.int("seed", default: 1, in: 0...Int.max)
        let start = try map.int("start_time_ns", default: 1_767_225_600_000_000_000, in: 0...Int.max)

        let street = try map.mapping("street")
        let streetEast = try street.interval("east_m", in: -1_000...1_000)
        guard streetEast.upperBound - streetEast.lowerBound >= 20 else {
            throw street.invalid("east_m", "the street must be at least 20 m long")
        }
        let laneWidth = try street.double("lane_width_m", default: 3.5, in: 2...6)
        var lanes: [Lane] = []
        for node in try street.list("lanes") {
            let m = try node.mapping()
            let dir = try m.string("direction", oneOf: ["east", "west"])
            lanes.append(Lane(north: try m.double("north_m", in: -1000...1000),
                              direction: Direction(rawValue: dir) ?? .east,
                              speed: try m.interval("speed_mps", in: 0.5...60)))
            try m.finish()
        }
        guard !lanes.isEmpty else { throw street.invalid("lanes", "at least one lane is required") }
        guard lanes.count <= 16 else { throw street.invalid("lanes", "at most 16 lanes (got \(lanes.count))") }
        var facades: [Facade] = []
        for node in try street.list("facades", optional: true) {
            let m = try node.mapping()
            facades.append(Facade(north: try m.double("north_m", in: -1000...1000),
                                  height: try m.double("height_m", in: 1...500),
                                  reflectionLossDb: try m.double("reflection_loss_db", default: 8, in: 0...100),
                                  color: try color(m, "color_rgb", default: [170, 150, 130])))
            try m.finish()
        }
        guard facades.count <= 8 else { throw street.invalid("facades", "at most 8 facades (got \(facades.count))") }
        try street.finish()

        let ueMap = try map.mapping("ue")
        let ueClassNode = try ueMap.required("vehicle")
        let ue = UEBehaviour(vehicle: try readClass(ueClassNode),
                             antennaHeight: try ueMap.double("antenna_height_m", default: 1.6, in: 0.1...10),
                             speed: try ueMap.interval("speed_mps", in: 0.5...60),
                             acceleration: try ueMap.interval("acceleration_mps2", default: 1...3, in: 0.1...10),
                             stopProbability: try ueMap.double("stop_probability", default: 0.3, in: 0...1),
                             stopDuration: try ueMap.interval("stop_duration_s", default: 2...6, in: 0...600),
                             stopEast: try ueMap.interval("stop_east_m", default: -30...30, in: -10_000...10_000),
                             speedChangeProbability: try ueMap.double("speed_change_probability", default: 0.5, in: 0...1),
                             laneChangeProbability: try ueMap.double("lane_change_probability", default: 0.5, in: 0...1),
                             laneChangeDuration: try ueMap.interval("lane_change_duration_s", default: 2.5...4, in: 0.5...30),
                             gap: try ueMap.interval("gap_s", default: 0...2, in: 0...600))
        try ueMap.finish()

        let traffic = try map.mapping("traffic")
        let perMinute = try traffic.double("vehicles_per_minute_per_lane", default: 6, in: 0...120)
        let headway = try traffic.double("min_headway_s", default: 2, in: 0.1...600)
        var classes: [VehicleClass] = []
        for node in try traffic.list("classes") { classes.append(try readClass(node)) }
        guard !classes.isEmpty, classes.count <= 64 else {
            throw traffic.invalid("classes", "between 1 and 64 vehicle classes are required (got \(classes.count))")
        }
        guard classes.reduce(0, { $0 + $1.probability }) > 0 else {
            throw traffic.invalid("classes", "the probabilities must not all be 0")
        }
        let blockage = try traffic.interval("blockage_loss_db", default: 20...30, in: 0...100)
        try traffic.finish()

        let link = try map.mapping("link")
        let txPower = try link.double("tx_power_dbm", default: 27, in: -50...70)
        let ueGain = try link.double("ue_gain_dbi", default: 0, in: -30...40)
        let noise = try link.double("noise_dbm", default: -85, in: -200...0)
        let reflections = try link.bool("reflections", default: true)
        try link.finish()

        let sensors = try map.mapping("sensors")
        var timing: [SensorKind: SensorTiming] = [:]
        for (index, kind) in SensorKind.allCases.enumerated() {
            timing[kind] = try readTiming(sensors, kind.rawValue, phase: Double(index) * 0.008)
        }
        try sensors.finish()

        let camera = try map.optional("camera").map { node throws(ConfigError) in try node.mapping() }
        let jpegQuality = try camera?.int("jpeg_quality", default: 85, in: 1...100) ?? 85
        try camera?.finish()
        let radar = try map.optional("radar").map { node throws(ConfigError) in try node.mapping() }
        let radarNoise = try radar?.double("noise_sigma", default: 1, in: 0...1e6) ?? 1
        let radarScale = try radar?.double("amplitude_scale", default: 10, in: 0...1e9) ?? 10
        let radarFov = try radar?.double("fov_deg", default: 60, in: 1...90) ?? 60
        try radar?.finish()
        let lidar = try map.optional("lidar").map { node throws(ConfigError) in try node.mapping() }
        let lidarNoise = try lidar?.double("range_noise_m", default: 0.02, in: 0...10) ?? 0.02
        try lidar?.finish()
        let gnss = try map.mapping("gnss")
        let result = Scenario(
            name: name, seed: UInt64(seed), startTimeNs: Int64(start),
            streetEast: streetEast, lanes: lanes, laneWidth: laneWidth, facades: facades, ue: ue,
            trafficPerMinute: perMinute, minHeadway: headway, classes: classes, blockageLossDb: blockage,
            txPowerDbm: txPower, ueGainDbi: ueGain, noiseDbm: noise, reflections: reflections,
            timing: timing, jpegQuality: jpegQuality,
            radarNoiseSigma: radarNoise, radarAmplitudeScale: radarScale, radarFovDeg: radarFov,
            lidarRangeNoise: lidarNoise,
            gnssBiasSigma: try gnss.double("bias_sigma_m", default: 1.5, in: 0...100),
            gnssBiasTau: try gnss.double("bias_tau_s", default: 60, in: 0.1...1e6),
            gnssWhiteSigma: try gnss.double("white_sigma_m", default: 0.7, in: 0...100),
            gnssDropoutsPerMinute: try gnss.double("dropouts_per_minute", default: 0.5, in: 0...60),
            gnssDropoutDuration: try gnss.interval("dropout_duration_s", default: 1...5, in: 0...3600),
            gnssHdop: try gnss.double("hdop", default: 0.9, in: 0.1...50))
        try gnss.finish()
        try map.finish()
        return result
    }
}

/// The simulated sensor streams, in the order used to break ties between equal stamps.
public enum SensorKind: String, Sendable, CaseIterable, Hashable {
    /// mmWave per-beam received power (ground truth is published with it).
    case beamPower = "beam_power"
    /// Camera image.
    case camera
    /// FMCW radar IF cube.
    case radar
    /// LiDAR point cloud.
    case lidar
    /// UE GNSS fix.
    case gnss
}
