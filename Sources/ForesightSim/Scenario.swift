import ForesightWire
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
        /// Towards +north (a cross street).
        case north
        /// Towards -north (a cross street).
        case south

        /// +1 for east/north, -1 for west/south.
        public var sign: Double { (self == .east || self == .north) ? 1 : -1 }
        /// Whether the lane runs along the east axis (the main street).
        public var alongEast: Bool { self == .east || self == .west }
        /// Unit vector of travel in the site plane.
        public var unit: SIMD2<Double> { alongEast ? SIMD2(sign, 0) : SIMD2(0, sign) }
    }

    /// One straight traffic lane: along east at `north_m` (the main street) or along north at
    /// `east_m` (a cross street).
    public struct Lane: Sendable, Equatable {
        /// Lateral position of the lane centre: metres north (east/west lanes) or east (north/south lanes).
        public var offset: Double
        /// Direction of travel.
        public var direction: Direction
        /// Extent along the lane axis, metres (east for east/west lanes, north for north/south lanes).
        public var extent: ClosedRange<Double>
        /// Range of cruise speeds for traffic in this lane, m/s.
        public var speed: ClosedRange<Double>

        /// Lane centre north coordinate of an east/west lane (the lateral offset).
        public var north: Double { offset }
        /// Where travel starts (site plane).
        public var start: SIMD2<Double> {
            let along = direction.sign > 0 ? extent.lowerBound : extent.upperBound
            return direction.alongEast ? SIMD2(along, offset) : SIMD2(offset, along)
        }
        /// Length of the lane, metres.
        public var length: Double { extent.upperBound - extent.lowerBound }
        /// Unit vector to the left of the direction of travel.
        public var leftNormal: SIMD2<Double> { SIMD2(-direction.unit.y, direction.unit.x) }
    }

    /// A building facade: a vertical wall rectangle from `start` to `end` (plan view, metres
    /// east/north), from the ground to `height`, of one material.
    public struct Facade: Sendable, Equatable {
        /// One end of the wall, metres (east, north).
        public var start: SIMD2<Double>
        /// The other end.
        public var end: SIMD2<Double>
        /// Height, metres.
        public var height: Double
        /// Radio material (resolved at the site's carrier).
        public var material: MaterialSpec
        /// Base colour in the camera image.
        public var color: SIMD3<Double>
    }

    /// A planned turn of the UE from one lane into another (an intersection).
    public struct Turn: Sendable, Equatable {
        /// Lane index the pass starts in.
        public var fromLane: Int
        /// Lane index the pass turns into.
        public var toLane: Int
        /// Radius of the circular arc joining the two lane centre lines, metres.
        public var radius: Double
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
        /// Lane indices a pass may start in.
        public var lanes: [Int]
        /// Turns a pass may take (an intersection); chosen with `turnProbability` when the pass starts in a turn's `fromLane`.
        public var turns: [Turn]
        /// Probability that a pass starting in a lane with a turn takes it.
        public var turnProbability: Double
    }

    /// Which propagation paths the channel model traces.
    public struct LinkModel: Sendable, Equatable {
        /// Transmit power, dBm.
        public var txPowerDbm: Double
        /// UE antenna gain, dBi (vertically polarised, isotropic in power).
        public var ueGainDbi: Double
        /// Receiver noise power per beam measurement, dBm.
        public var noiseDbm: Double
        /// Facade reflections.
        public var reflections: Bool
        /// The ground reflection.
        public var groundReflection: Bool
        /// First-order reflections off vehicle bodies (metal).
        public var vehicleReflections: Bool
        /// Highest reflection order among the static surfaces (ground and facades), 1 or 2.
        public var maxOrder: Int
        /// Publish `truth/channel` (every path, with the vehicle boxes).
        public var channelTruth: Bool
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
    /// Material of the ground (road and sidewalks).
    public var groundMaterial: MaterialSpec
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
    /// The radio link: power budget and which paths are traced.
    public var link: LinkModel
    /// Transmit power, dBm.
    public var txPowerDbm: Double { link.txPowerDbm }
    /// UE antenna gain, dBi.
    public var ueGainDbi: Double { link.ueGainDbi }
    /// Receiver noise power per beam measurement, dBm.
    public var noiseDbm: Double { link.noiseDbm }
    /// Whether facade reflections are modelled.
    public var reflections: Bool {
        get { link.reflections }
        set { link.reflections = newValue }
    }
    /// Timing of each sensor stream.
    public var timing: [Modality: SensorTiming]
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

    /// The file of a scenario given by name or path: an existing file as is; otherwise a bare
    /// name (`boulevard`, or `boulevard.yaml`) looked up as `<directory>/<name>.yaml` in each
    /// directory in turn. Nil when nothing matches.
    public static func resolve(_ nameOrPath: String, directories: [String]) -> String? {
        let files = FileManager.default
        if files.fileExists(atPath: nameOrPath) { return nameOrPath }
        guard !nameOrPath.contains("/") else { return nil }
        let file = nameOrPath.hasSuffix(".yaml") ? nameOrPath : nameOrPath + ".yaml"
        for directory in directories where files.fileExists(atPath: directory + "/" + file) {
            return directory + "/" + file
        }
        return nil
    }

    /// Names of the scenario files (`*.yaml`, without the extension) in a directory, sorted.
    public static func names(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
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

    static func readLane(_ node: ConfigNode, streetEast: ClosedRange<Double>) throws(ConfigError) -> Lane {
        let m = try node.mapping()
        let dir = try m.string("direction", oneOf: ["east", "west", "north", "south"])
        let direction = Direction(rawValue: dir) ?? .east
        let lane: Lane
        if direction.alongEast {
            lane = Lane(offset: try m.double("north_m", in: -1000...1000), direction: direction,
                        extent: try m.interval("east_m", default: streetEast, in: -1000...1000),
                        speed: try m.interval("speed_mps", in: 0.5...60))
        } else {
            lane = Lane(offset: try m.double("east_m", in: -1000...1000), direction: direction,
                        extent: try m.interval("north_m", in: -1000...1000),
                        speed: try m.interval("speed_mps", in: 0.5...60))
        }
        guard lane.length >= 10 else { throw m.invalid(direction.alongEast ? "east_m" : "north_m", "a lane must be at least 10 m long") }
        try m.finish()
        return lane
    }

    /// A facade: `{north_m: y, east_m: [a, b]}` (a wall along east; `east_m` defaults to ±5 km,
    /// i.e. along the whole street) or `{east_m: x, north_m: [a, b]}` (a wall along north).
    static func readFacade(_ node: ConfigNode) throws(ConfigError) -> Facade {
        let m = try node.mapping()
        if m.optional("reflection_loss_db") != nil {
            throw m.invalid("reflection_loss_db", "replaced by `material` (ITU-R P.2040 name such as concrete, glass, metal, "
                + "or {permittivity, conductivity_s_per_m}); the loss now follows from the Fresnel coefficients")
        }
        let northNode = try m.required("north_m")
        let start: SIMD2<Double>, end: SIMD2<Double>
        if (try? northNode.list()) != nil {
            let x = try m.double("east_m", in: -5000...5000)
            let ys = try m.interval("north_m", in: -5000...5000)
            guard ys.upperBound - ys.lowerBound >= 0.5 else { throw m.invalid("north_m", "a facade must be at least 0.5 m long") }
            (start, end) = (SIMD2(x, ys.lowerBound), SIMD2(x, ys.upperBound))
        } else {
            let y = try m.double("north_m", in: -1000...1000)
            let xs = try m.interval("east_m", default: -5000...5000, in: -5000...5000)
            guard xs.upperBound - xs.lowerBound >= 0.5 else { throw m.invalid("east_m", "a facade must be at least 0.5 m long") }
            (start, end) = (SIMD2(xs.lowerBound, y), SIMD2(xs.upperBound, y))
        }
        let facade = Facade(start: start, end: end, height: try m.double("height_m", in: 1...500),
                            material: try MaterialSpec.read(m, "material", default: "concrete"),
                            color: try color(m, "color_rgb", default: [170, 150, 130]))
        try m.finish()
        return facade
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
            lanes.append(try readLane(node, streetEast: streetEast))
        }
        guard !lanes.isEmpty else { throw street.invalid("lanes", "at least one lane is required") }
        guard lanes.count <= 16 else { throw street.invalid("lanes", "at most 16 lanes (got \(lanes.count))") }
        var facades: [Facade] = []
        for node in try street.list("facades", optional: true) { facades.append(try readFacade(node)) }
        guard facades.count <= 16 else { throw street.invalid("facades", "at most 16 facades (got \(facades.count))") }
        let ground = try MaterialSpec.read(street, "ground_material", default: "concrete")
        try street.finish()

        let ueMap = try map.mapping("ue")
        let ueClassNode = try ueMap.required("vehicle")
        let mainLanes = lanes.indices.filter { lanes[$0].direction.alongEast }
        var ueLanes = mainLanes.isEmpty ? Array(lanes.indices) : mainLanes
        if let node = ueMap.optional("lanes") {
            ueLanes = []
            for item in try node.list() {
                let index = try item.int()
                guard lanes.indices.contains(index) else { throw ueMap.invalid("lanes", "lane index \(index) does not exist (\(lanes.count) lanes)") }
                ueLanes.append(index)
            }
            guard !ueLanes.isEmpty else { throw ueMap.invalid("lanes", "at least one lane is required") }
        }
        var turns: [Turn] = []
        for node in try ueMap.list("turns", optional: true) {
            let m = try node.mapping()
            let turn = Turn(fromLane: try m.int("from_lane", in: 0...(lanes.count - 1)),
                            toLane: try m.int("to_lane", in: 0...(lanes.count - 1)),
                            radius: try m.double("radius_m", default: 8, in: 1...100))
            guard lanes[turn.fromLane].direction.alongEast != lanes[turn.toLane].direction.alongEast else {
                throw m.invalid("to_lane", "a turn joins an east/west lane and a north/south lane")
            }
            try m.finish()
            turns.append(turn)
        }
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
                             gap: try ueMap.interval("gap_s", default: 0...2, in: 0...600),
                             lanes: ueLanes, turns: turns,
                             turnProbability: try ueMap.double("turn_probability", default: turns.isEmpty ? 0 : 0.5, in: 0...1))
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

        let linkMap = try map.mapping("link")
        let link = LinkModel(txPowerDbm: try linkMap.double("tx_power_dbm", default: 27, in: -50...70),
                             ueGainDbi: try linkMap.double("ue_gain_dbi", default: 0, in: -30...40),
                             noiseDbm: try linkMap.double("noise_dbm", default: -85, in: -200...0),
                             reflections: try linkMap.bool("reflections", default: true),
                             groundReflection: try linkMap.bool("ground_reflection", default: true),
                             vehicleReflections: try linkMap.bool("vehicle_reflections", default: true),
                             maxOrder: try linkMap.int("max_reflection_order", default: 2, in: 1...2),
                             channelTruth: try linkMap.bool("channel_truth", default: false))
        try linkMap.finish()

        let sensors = try map.mapping("sensors")
        var timing: [Modality: SensorTiming] = [:]
        for (index, kind) in Modality.simulationOrder.enumerated() {
            timing[kind] = try readTiming(sensors, kind.rawValue, phase: Double(index) * 0.008)
        }
        try sensors.finish()

        let camera = try map.optional(Modality.camera.rawValue).map { node throws(ConfigError) in try node.mapping() }
        let jpegQuality = try camera?.int("jpeg_quality", default: 85, in: 1...100) ?? 85
        try camera?.finish()
        let radar = try map.optional(Modality.radar.rawValue).map { node throws(ConfigError) in try node.mapping() }
        let radarNoise = try radar?.double("noise_sigma", default: 1, in: 0...1e6) ?? 1
        let radarScale = try radar?.double("amplitude_scale", default: 10, in: 0...1e9) ?? 10
        let radarFov = try radar?.double("fov_deg", default: 60, in: 1...90) ?? 60
        try radar?.finish()
        let lidar = try map.optional(Modality.lidar.rawValue).map { node throws(ConfigError) in try node.mapping() }
        let lidarNoise = try lidar?.double("range_noise_m", default: 0.02, in: 0...10) ?? 0.02
        try lidar?.finish()
        let gnss = try map.mapping(Modality.gnss.rawValue)
        let result = Scenario(
            name: name, seed: UInt64(seed), startTimeNs: Int64(start),
            streetEast: streetEast, lanes: lanes, laneWidth: laneWidth, facades: facades, groundMaterial: ground, ue: ue,
            trafficPerMinute: perMinute, minHeadway: headway, classes: classes, blockageLossDb: blockage,
            link: link,
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

extension Modality {
    /// The simulated sensor streams, in the order used to break ties between equal stamps (and to
    /// seed each sensor's clock): beam power first (ground truth is published with it).
    public static let simulationOrder: [Modality] = [.beamPower, .camera, .radar, .lidar, .gnss]
}
