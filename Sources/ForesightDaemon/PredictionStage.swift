import ForesightPredict
import ForesightPreprocess
import ForesightSite
import ForesightWire

/// The predictor stage: keeps the window of recent frames and asks the predictor for every
/// horizon step. It runs on its own thread (a custom executor), so a learned model's BLAS work
/// never occupies Swift's cooperative pool.
public actor PredictionStage {
    private let executor: DedicatedThreadExecutor
    /// Runs on the stage's dedicated thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let predictor: any Predictor
    private let site: Site
    private let settings: LaunchFile.PredictorSettings
    private let powerInDBm: BeamPowerPreprocessor
    private let radarDetector: RadarDetector?
    private var window: [FrameObservation] = []

    /// Creates the stage for `predictor` with the launch file's horizon settings.
    public init(predictor: any Predictor, site: Site, settings: LaunchFile.PredictorSettings) throws {
        executor = DedicatedThreadExecutor(name: "fs-predict")
        self.predictor = predictor
        self.site = site
        self.settings = settings
        var dbm = BeamPowerParameters()
        dbm.floorDBm = Float(site.beamPower.floorDbm)
        dbm.normalization = .none
        powerInDBm = try BeamPowerPreprocessor(parameters: dbm)
        let radar = site.radar
        radarDetector = settings.radarDetections
            ? RadarDetector(rangeResolution: radar.rangeResolution, origin: SIMD2(radar.pose.position.x, radar.pose.position.y),
                            height: radar.pose.position.z, yaw: radar.pose.yawDeg * .pi / 180)
            : nil
    }

    /// The model name of the predictor.
    public nonisolated var model: String { predictor.model }

    /// Adds a preprocessed frame to the window and predicts the horizon after it.
    public func predict(_ frame: PreprocessedFrame, context: FrameContext) -> PredictionSet {
        window.append(observation(frame, context: context))
        if window.count > settings.history { window.removeFirst(window.count - settings.history) }
        let horizon = (1...settings.horizon).map { frame.stamp + Int64($0) * settings.step }
        return predictor.predict(history: window, horizon: horizon)
    }

    /// Stops the stage's thread (after the last prediction).
    public func stop() { executor.stop() }

    /// What the predictor sees of a frame: site-frame geometry for the classical predictor and
    /// the model-input tensors for a learned one.
    func observation(_ frame: PreprocessedFrame, context: FrameContext) -> FrameObservation {
        var o = FrameObservation(stamp: frame.stamp)
        if let g = frame.tensors[.gnss], g.values.count >= 2 {
            o.gnss = SIMD2(Double(g.values[0]), Double(g.values[1]))
        }
        if let power = context.beamPower, frame.tensors[.beamPower] != nil {
            o.beamPowerDBm = try? powerInDBm.process(power: power.power, unit: power.unit)
        }
        if let cloud = context.cloud, frame.tensors[.lidar] != nil {
            o.lidarPoints = sitePoints(cloud)
        }
        if let detector = radarDetector, let map = frame.tensors[.radar], map.shape.count == 2 {
            o.radar = detector.detect(map: map.values, angleBins: map.shape[0], rangeBins: map.shape[1])
        }
        if settings.memberStamps {
            // Each member's own acquisition stamp: members of one frame can be tens of ms apart.
            o.gnssStamp = context.fix?.header.stamp
            o.beamPowerStamp = context.beamPower?.header.stamp
        }
        o.camera = frame.tensors[.camera]?.values
        o.radarMap = frame.tensors[.radar]?.values
        o.lidarDepth = frame.tensors[.lidar]?.values
        o.beamPowerNormalized = frame.tensors[.beamPower]?.values
        let present: [(ForesightPredict.Modality, Bool)] = [
            (.camera, o.camera != nil), (.radar, o.radarMap != nil), (.lidar, o.lidarDepth != nil),
            (.gnss, o.gnss != nil), (.beamPower, o.beamPowerNormalized != nil),
        ]
        o.missing = Set(present.filter { !$0.1 }.map(\.0))
        return o
    }

    /// LiDAR points transformed from the sensor frame into the site frame.
    func sitePoints(_ cloud: PointCloud) -> [SIMD3<Float>] {
        guard let xi = cloud.fieldIndex("x"), let yi = cloud.fieldIndex("y"), let zi = cloud.fieldIndex("z"), cloud.count > 0 else { return [] }
        let stride = cloud.fields.count
        let r = site.lidar.pose.rotation
        let t = site.lidar.pose.position
        let (rx, ry, rz) = (SIMD3<Float>(r.x), SIMD3<Float>(r.y), SIMD3<Float>(r.z))
        let origin = SIMD3<Float>(t)
        var points = [SIMD3<Float>]()
        points.reserveCapacity(cloud.count)
        cloud.data.withUnsafeBytes { raw in
            let values = raw.bindMemory(to: Float.self)
            for p in 0..<cloud.count {
                let base = p * stride
                let x = Float(littleEndianBits: values[base + xi]), y = Float(littleEndianBits: values[base + yi]), z = Float(littleEndianBits: values[base + zi])
                points.append(origin + rx * x + ry * y + rz * z)
            }
        }
        return points
    }
}

extension Float {
    /// A float read from little-endian storage (identity on little-endian hosts).
    init(littleEndianBits stored: Float) {
        self = Float(bitPattern: UInt32(littleEndian: stored.bitPattern))
    }
}

extension ClassicalPredictor.Configuration {
    /// The classical predictor's geometry from a site calibration.
    public init(site: Site, topK: Int) {
        let position = site.mmwave.pose.position
        self.init(arrayPosition: SIMD2(position.x, position.y), boresightAzimuth: site.mmwave.pose.yawDeg * .pi / 180,
                  steeringAngles: site.codebookSteeringAngles(), topK: topK)
    }
}
