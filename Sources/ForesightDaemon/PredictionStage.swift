import ForesightCore
import ForesightPredict
import ForesightPreprocess
import ForesightSite
import ForesightWire

/// Decides where a new segment starts: the first frame, a whole-stream resync of the synchronizer
/// (its time base moved back: the frame's `epoch` changed), a stamp that does not advance, or a gap
/// longer than the launch file's `predictor.reset_gap_ms` (a forward clock jump is such a gap). The daemon resets streaming predictors there
/// and `foresight dataset` numbers its `segment` tensor with the same rule.
public struct SegmentTracker: Sendable {
    /// The longest gap (ns) between consecutive frames of one segment.
    public let resetGap: Int64
    /// The current segment number (−1 before the first frame).
    public private(set) var segment = -1
    private var lastStamp: Int64?
    private var lastEpoch: UInt64 = 0

    /// Creates a tracker with the launch file's reset gap.
    public init(resetGap: Int64) { self.resetGap = resetGap }

    /// Accounts for the next frame; returns true when it starts a new segment.
    public mutating func advance(stamp: Int64, epoch: UInt64) -> Bool {
        defer { lastStamp = stamp; lastEpoch = epoch }
        guard let last = lastStamp, epoch == lastEpoch, stamp > last,
              stamp.subtractingReportingOverflow(last).partialValue <= resetGap else {
            segment += 1
            return true
        }
        return false
    }
}

/// The predictor stage: keeps the window of recent frames, follows segments (resetting the
/// predictor at each start) and asks the predictor for every horizon step. It runs on its own
/// thread (a custom executor), so no predictor work occupies Swift's cooperative pool; a learned
/// model additionally runs on its own inference thread.
///
/// An optional reference predictor (`foresight run --compare`) sees the same window and horizon
/// through ``predictReference()``, called after the primary prediction has gone out; it is reset
/// at the same segment starts, and its failures are counted apart (``referenceFailures``).
public actor PredictionStage {
    private let executor: DedicatedThreadExecutor
    /// Runs on the stage's dedicated thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let predictor: any Predictor
    private let reference: (any Predictor)?
    private let site: Site
    private let settings: LaunchFile.PredictorSettings
    private let observations: ObservationBuilder
    private var window: PredictorWindow
    /// Segments started so far (the predictor was reset this many times).
    public private(set) var segmentCount = 0
    /// Frames the predictor threw on (no prediction published).
    public private(set) var failures = 0
    /// The last error a predictor threw, for logs.
    public private(set) var lastFailure: String?
    /// Modalities the predictor treated as missing since the last ``takeScreenedInputs()`` (an
    /// ``InputScreeningPredictor`` that could not use them).
    private var screened: [InputScreeningPredictor.ScreenedInput] = []
    /// Frames the reference predictor threw on (the primary prediction is unaffected).
    public private(set) var referenceFailures = 0
    /// The horizon of the newest frame, until the reference predictor has run on it.
    private var pendingReference: [Int64]?

    /// Creates the stage for `predictor` with the launch file's horizon settings; `reference`
    /// (optional) is run beside it on request (``predictReference()``), never instead of it.
    public init(predictor: any Predictor, reference: (any Predictor)? = nil, site: Site,
                settings: LaunchFile.PredictorSettings) throws {
        executor = DedicatedThreadExecutor(name: "fs-predict")
        self.predictor = predictor
        self.reference = reference
        self.site = site
        self.settings = settings
        window = PredictorWindow(history: settings.history, steps: settings.horizon, step: settings.step, resetGap: settings.resetGap)
        observations = try ObservationBuilder(site: site, radarDetections: settings.radarDetections, memberStamps: settings.memberStamps)
    }

    /// The model name of the predictor.
    public nonisolated var model: String { predictor.model }
    /// The model name of the reference predictor, if any.
    public nonisolated var referenceModel: String? { reference?.model }

    /// Adds a preprocessed frame to the window and predicts the horizon after it; nil when the
    /// predictor could not use the frame (counted in ``failures``).
    public func predict(_ frame: PreprocessedFrame) async -> PredictionSet? {
        let step = window.append(observation(frame), epoch: frame.header.epoch)
        if step.segmentStarted { segmentCount += 1 }
        if step.cleared {
            await predictor.reset()
            await reference?.reset()
        }
        let horizon = step.horizon
        pendingReference = reference == nil ? nil : horizon
        defer { if let screening = predictor as? any InputScreeningPredictor { screened += screening.takeScreenedInputs() } }
        do {
            return try await predictor.predict(history: window.frames, horizon: horizon)
        } catch {
            failures += 1
            lastFailure = "\(error)"
            return nil
        }
    }

    /// The modalities the predictor treated as missing since the last call (drains the list).
    public func takeScreenedInputs() -> [InputScreeningPredictor.ScreenedInput] {
        defer { screened.removeAll() }
        return screened
    }

    /// What the reference predictor made of a frame.
    public enum ReferenceOutcome: Sendable {
        /// Its prediction set.
        case predicted(PredictionSet)
        /// It threw; the error's text (counted in ``referenceFailures``).
        case failed(String)
    }

    /// Runs the reference predictor on the window and horizon of the frame ``predict(_:)``
    /// was last given — at most once per frame, whether or not the primary predictor succeeded.
    /// Nil without a reference or when it already ran for this frame.
    public func predictReference() async -> ReferenceOutcome? {
        guard let reference, let horizon = pendingReference else { return nil }
        pendingReference = nil
        do {
            return .predicted(try await reference.predict(history: window.frames, horizon: horizon))
        } catch {
            referenceFailures += 1
            return .failed("\(error)")
        }
    }

    /// Stops the stage's thread (after the last prediction) and releases the predictors.
    public func stop() async {
        await predictor.shutdown()
        await reference?.shutdown()
        executor.stop()
    }

    /// What the predictor sees of a frame.
    func observation(_ frame: PreprocessedFrame) -> FrameView {
        observations.observation(frame)
    }
}

/// Turns a preprocessed frame into what a predictor sees (``FrameView``): a view of the
/// frame — the model-input tensors, the site-frame LiDAR points and the beam power in dBm the
/// front end computed with them, GNSS east/north, member stamps from the header — plus radar
/// detections from the radar map when asked. The daemon's predictor stage and `foresight
/// dataset` use this one builder, so training data and serving never differ.
public struct ObservationBuilder: Sendable {
    private let radarDetector: RadarDetector?
    private let memberStamps: Bool

    /// Creates the builder for a site (its radar pose); `radarDetections` and `memberStamps` are the
    /// classical predictor's launch options (docs/predictors.md).
    public init(site: Site, radarDetections: Bool = false, memberStamps: Bool = false) throws {
        self.memberStamps = memberStamps
        let radar = site.radar
        radarDetector = radarDetections
            ? RadarDetector(rangeResolution: radar.rangeResolution, origin: SIMD2(radar.pose.position.x, radar.pose.position.y),
                            height: radar.pose.position.z, yaw: radar.pose.yawDeg * .pi / 180)
            : nil
    }

    /// The observation of a frame; `lidarPoints` (site-frame points) only when `includePoints`.
    public func observation(_ frame: PreprocessedFrame, includePoints: Bool = true) -> FrameView {
        var o = FrameView(stamp: frame.stamp)
        if let g = frame.tensors[.gnss], g.values.count >= 2 {
            o.gnss = SIMD2(Double(g.values[0]), Double(g.values[1]))
        }
        if frame.tensors[.beamPower] != nil { o.beamPowerDBm = frame.beamPowerDBm }
        if includePoints, let points = frame.lidarPoints {
            o.lidarPoints = points
            o.lidarGrid = LidarGrid(points: points)
        }
        if let detector = radarDetector, let map = frame.tensors[.radar], map.shape.count == 2 {
            o.radar = detector.detect(map: map.values, angleBins: map.shape[0], rangeBins: map.shape[1])
        }
        if memberStamps {
            // Each member's own acquisition stamp: members of one frame can be tens of ms apart.
            o.gnssStamp = frame.header.memberStamp(.gnss)
            o.beamPowerStamp = frame.header.memberStamp(.beamPower)
        }
        o.camera = frame.tensors[.camera]?.values
        o.radarMap = frame.tensors[.radar]?.values
        o.lidarDepth = frame.tensors[.lidar]?.values
        o.beamPowerNormalized = frame.tensors[.beamPower]?.values
        // A modality the front end skipped because this predictor does not read its tensor
        // (`FrontEndConfiguration.modelInputs`) was there: present, not missing.
        let present: [(Modality, Bool)] = [
            (.camera, o.camera != nil), (.radar, o.radarMap != nil), (.lidar, o.lidarDepth != nil),
            (.gnss, o.gnss != nil), (.beamPower, o.beamPowerNormalized != nil),
        ]
        o.missing = Set(present.filter { !$0.1 && !frame.unprocessed.contains($0.0) }.map(\.0))
        return o
    }
}

extension PersistencePredictor.Configuration {
    /// The persistence baseline's geometry from a site calibration.
    public init(site: Site, topK: Int) {
        let position = site.mmwave.pose.position
        self.init(arrayPosition: SIMD2(position.x, position.y), steeringAngles: site.codebookSteeringAngles(), topK: topK)
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
