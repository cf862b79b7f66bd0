import ForesightWire
import ForesightSite
import Foundation

/// Ground truth at one beam-power acquisition.
public struct TruthSample: Sendable, Equatable {
    /// UE position, metres east of the site origin.
    public var east: Double
    /// UE position, metres north.
    public var north: Double
    /// UE velocity, m/s east.
    public var velocityEast: Double
    /// UE velocity, m/s north.
    public var velocityNorth: Double
    /// UE heading, radians counter-clockwise from east.
    public var heading: Double
    /// Index of the best beam (argmax of the noiseless power).
    public var bestBeam: Int
    /// Noiseless power of every beam, mW (the protocol's `truth/beam` unit).
    public var power: [Float]
    /// Whether a vehicle body (or a building) blocks the line of sight.
    public var blocked: Bool
    /// Every path that reaches the array (line of sight first), with its blockage.
    public var paths: [PathTruth]
    /// UE antenna position, site frame (for `truth/channel`).
    public var ueAntenna: SIMD3<Double>
    /// Every vehicle body in the scene, the UE's included (only when `link.channel_truth` is on).
    public var vehicles: [VehicleBox]
}

/// One propagation path as published in `truth/blockage` and `truth/channel`.
public struct PathTruth: Sendable, Equatable {
    /// `los`, `ground`, `facade:N`, `vehicle:ID`, or two reflectors joined by `+` (UE side first).
    public var name: String
    /// Propagation delay, s.
    public var delay: Double
    /// Arrival azimuth in the array's body frame, radians (positive left of boresight).
    public var azimuth: Double
    /// Arrival elevation, radians.
    public var elevation: Double
    /// Complex amplitude at the array's reference point (see `ChannelPath`).
    public var gain: Complex
    /// Whether a vehicle body (or, for the line of sight, a building) crosses the path.
    public var blocked: Bool
    /// Body loss added to the path, dB.
    public var blockageDb: Double
}

/// A vehicle body: box on the ground.
public struct VehicleBox: Sendable, Equatable {
    /// Vehicle id.
    public var id: Int
    /// Whether it is the UE.
    public var isUE: Bool
    /// Centre of the footprint, metres east.
    public var east: Double
    /// Centre of the footprint, metres north.
    public var north: Double
    /// Heading, radians counter-clockwise from east.
    public var heading: Double
    /// `[length, width, height]`, metres.
    public var size: SIMD3<Double>
}

/// What one simulated event carries.
public enum SimPayload: Sendable, Equatable {
    /// Ground truth (never dropped; stamped like the beam-power measurement).
    case truth(TruthSample)
    /// Measured power per beam, in the site's beam-power unit.
    case beamPower([Float])
    /// A JPEG image.
    case camera(jpeg: [UInt8])
    /// The radar IF cube, `[rx, samples, chirps]` complex float32, I/Q interleaved.
    case radar(cube: [Float])
    /// LiDAR points, `[x, y, z, intensity]` float32 interleaved, LiDAR frame.
    case lidar(points: [Float])
    /// A GNSS fix.
    case gnss(GnssSample)
}

/// One simulated message: which stream, when, its sequence number and its content.
public struct SimEvent: Sendable, Equatable {
    /// The sensor stream (truth belongs to `.beamPower`).
    public var sensor: Modality
    /// Acquisition time, ns since the Unix epoch.
    public var stamp: Int64
    /// Acquisition time, s since the scenario start.
    public var time: Double
    /// Per-stream sequence number (increments also for dropped messages, so drops show as gaps).
    public var seq: UInt32
    /// The content.
    public var payload: SimPayload
}

/// The testbed in a box: a pure, seeded, deterministic step function producing every sensor
/// event in time order. The same site, scenario and seed give the same events, bit for bit.
public struct Simulator: Sendable {
    /// The site calibration.
    public let site: Site
    /// The scenario.
    public let scenario: Scenario
    /// The seed in use.
    public let seed: UInt64
    /// Stamp of simulated time 0, ns since the Unix epoch (the scenario's `start_time_ns` unless overridden).
    public let startTimeNs: Int64
    /// The world (vehicles).
    public private(set) var world: World
    let channel: ChannelModel
    let radar: RadarModel
    let lidar: LidarModel
    let camera: CameraModel
    var gnss: GnssModel

    private struct Clock: Sendable {
        var kind: Modality
        var timing: Scenario.SensorTiming
        var tick: UInt32 = 0
        var nextTime: Double = 0
        var random: SimRandom
        var noise: SimRandom

        mutating func schedule() {
            let nominal = timing.phase + Double(tick) / timing.rateHz
            let jitter = max(-3, min(3, random.gaussian())) * timing.jitter
            nextTime = max(0, nominal + jitter)
        }
    }

    private var clocks: [Clock]
    private var pending: [SimEvent] = []
    private var radarBuffer: [Float] = []

    /// Builds the simulator; the static parts of the scene (camera background, LiDAR rays) are
    /// precomputed here. `startTimeNs` overrides the scenario's start stamp (e.g. wall-clock
    /// time for live runs); everything else stays identical.
    public init(site: Site, scenario: Scenario, seed: UInt64, startTimeNs: Int64? = nil) throws(ConfigError) {
        self.site = site
        self.scenario = scenario
        self.seed = seed
        self.startTimeNs = startTimeNs ?? scenario.startTimeNs
        world = World(scenario: scenario, seed: seed)
        let scene = StaticScene(scenario: scenario)
        channel = try ChannelModel(site: site, scenario: scenario)
        radar = RadarModel(radar: site.radar, noiseSigma: scenario.radarNoiseSigma,
                           amplitudeScale: scenario.radarAmplitudeScale, fovDeg: scenario.radarFovDeg)
        lidar = LidarModel(lidar: site.lidar, scene: scene, rangeNoise: scenario.lidarRangeNoise)
        camera = CameraModel(camera: site.camera, scene: scene, quality: scenario.jpegQuality)
        var gnssInit = SimRandom(seed: seed, stream: 300)
        gnss = GnssModel(reference: site.origin, scenario: scenario, random: &gnssInit)
        clocks = Modality.simulationOrder.enumerated().map { index, kind in
            var clock = Clock(kind: kind, timing: scenario.timing[kind] ?? .init(rateHz: 10, phase: 0, jitter: 0, dropProbability: 0),
                              random: SimRandom(seed: seed, stream: 10 + UInt64(index)),
                              noise: SimRandom(seed: seed, stream: 20 + UInt64(index)))
            clock.schedule()
            return clock
        }
    }

    /// Loads the site calibration and the scenario from files; `seed` nil uses the scenario's seed.
    public init(sitePath: String, scenarioPath: String, seed: UInt64? = nil, startTimeNs: Int64? = nil) throws(ConfigError) {
        let site = try Site.load(path: sitePath)
        let scenario = try Scenario.load(path: scenarioPath)
        try self.init(site: site, scenario: scenario, seed: seed ?? scenario.seed, startTimeNs: startTimeNs)
    }

    /// Simulated time of the next acquisition, s since the start.
    public var nextTime: Double {
        pending.first?.time ?? clocks.map(\.nextTime).min() ?? 0
    }

    /// The next event in time order.
    public mutating func next() throws(SimError) -> SimEvent {
        while pending.isEmpty {
            try step()
        }
        return pending.removeFirst()
    }

    /// Runs the earliest sensor acquisition and queues its events (none when dropped).
    private mutating func step() throws(SimError) {
        var index = 0
        for i in clocks.indices where clocks[i].nextTime < clocks[index].nextTime { index = i }
        var clock = clocks[index]
        let time = clock.nextTime
        let seq = clock.tick
        let dropped = clock.random.chance(clock.timing.dropProbability)
        clock.tick += 1
        clock.schedule()
        defer { clocks[index] = clock }

        world.advance(to: time)
        let snapshot = world.snapshot(at: time)
        let stamp = startTimeNs &+ Int64((time * 1e9).rounded())
        func emit(_ payload: SimPayload) {
            pending.append(SimEvent(sensor: clock.kind, stamp: stamp, time: time, seq: seq, payload: payload))
        }
        switch clock.kind {
        case .beamPower:
            let (truth, noiseless) = self.truth(snapshot)
            emit(.truth(truth))
            if !dropped {
                let measured = channel.measured(noiseless, random: &clock.noise)
                emit(.beamPower(measured.map { convert($0) }))
            }
        case .camera:
            guard !dropped else { return }
            let rgb = camera.render(vehicles: snapshot.vehicles)
            emit(.camera(jpeg: try camera.encodeJPEG(rgb)))
        case .radar:
            guard !dropped else { return }
            let scatterers = snapshot.vehicles.flatMap { radar.scatterers(of: $0) }
            radar.synthesize(scatterers: scatterers, into: &radarBuffer, random: &clock.noise)
            emit(.radar(cube: radarBuffer))
        case .lidar:
            guard !dropped else { return }
            emit(.lidar(points: lidar.scan(vehicles: snapshot.vehicles, random: &clock.noise)))
        case .gnss:
            let fix = gnss.fix(east: snapshot.ue.east, north: snapshot.ue.north, time: time, random: &clock.noise)
            guard !dropped, let fix else { return }
            emit(.gnss(fix))
        }
    }

    private func convert(_ milliwatts: Double) -> Float {
        switch site.beamPower.unit {
        case .mw: return Float(milliwatts)
        case .dbm: return Float(10 * log10(max(milliwatts, 1e-30)))
        }
    }

    /// Ground truth and noiseless beam powers (mW) for a snapshot.
    public func truth(_ snapshot: WorldSnapshot) -> (TruthSample, [Double]) {
        let paths = channel.paths(ue: snapshot.ueAntenna, vehicles: snapshot.vehicles, ueID: snapshot.ue.id)
        let powers = channel.beamPowers(paths: paths)
        var best = 0
        for (b, p) in powers.enumerated() where p > powers[best] { best = b }
        let blocked = paths.first { $0.kind == .lineOfSight }.map(\.blocked)
            ?? ChannelModel.blockage(site.mmwave.pose.position, snapshot.ueAntenna, blockers: snapshot.vehicles, except: snapshot.ue.id).1
        let c = 299_792_458.0
        let pathTruth = paths.map {
            PathTruth(name: $0.kind.name, delay: $0.length / c, azimuth: $0.azimuth, elevation: $0.elevation,
                      gain: Complex($0.re, $0.im), blocked: $0.blocked, blockageDb: $0.blockageDb)
        }
        let vehicles = scenario.link.channelTruth
            ? snapshot.vehicles.map { VehicleBox(id: $0.id, isUE: $0.isUE, east: $0.east, north: $0.north, heading: $0.heading,
                                                 size: $0.box.half * 2) }
            : []
        let ue = snapshot.ue
        let truth = TruthSample(east: ue.east, north: ue.north, velocityEast: ue.velocityEast, velocityNorth: ue.velocityNorth,
                                heading: ue.heading, bestBeam: best, power: powers.map { Float($0) }, blocked: blocked,
                                paths: pathTruth, ueAntenna: snapshot.ueAntenna, vehicles: vehicles)
        return (truth, powers)
    }

    /// The channel model (for tests and tools).
    public var channelModel: ChannelModel { channel }
    /// The radar model (for tests and tools).
    public var radarModel: RadarModel { radar }
    /// The LiDAR model (for tests and tools).
    public var lidarModel: LidarModel { lidar }
    /// The camera model (for tests and tools).
    public var cameraModel: CameraModel { camera }
}
