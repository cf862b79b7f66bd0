import ForesightWire
import Synchronization

/// One synchronized frame of raw inputs: the members' wire messages as decoded (their bytes still
/// slices or arrays of the payloads; nothing is converted before the modality's processor reads
/// it); absent modalities are `nil`. Its header travels with it through the front end into the
/// ``PreprocessedFrame``.
public struct RawFrame: Sendable, Equatable {
    /// The frame's header (number, stamp, members, missing, receive times).
    public var header: FrameHeader
    /// Frame sequence number (from the synchronizer).
    public var seq: UInt64 { header.seq }
    /// Frame time, ns since the epoch.
    public var stamp: Int64 { header.stamp }
    /// Camera message, if present (its bytes a slice of the payload, its JPEG header already read).
    public var camera: Image?
    /// Radar cube, if present.
    public var radar: RadarCube?
    /// LiDAR point cloud, if present.
    public var lidar: PointCloud?
    /// GNSS fix, if present and usable (a fix without a position is left out: the frame lacks GNSS).
    public var gnss: GnssFix?
    /// Beam power scan, if present.
    public var beamPower: BeamPower?

    /// Creates a frame from decoded wire messages (any may be absent). A GNSS fix that is not
    /// usable (no fix, non-finite coordinates) is left out, so the frame simply lacks GNSS.
    public init(header: FrameHeader, camera: Image? = nil, radar: RadarCube? = nil, lidar: PointCloud? = nil,
                gnss: GnssFix? = nil, beamPower: BeamPower? = nil) {
        self.header = header
        self.camera = camera; self.radar = radar; self.lidar = lidar; self.beamPower = beamPower
        self.gnss = gnss.flatMap { $0.isUsable ? $0 : nil }
    }

    /// Creates a frame with a bare header (number and stamp only).
    public init(seq: UInt64, stamp: Int64, camera: Image? = nil, radar: RadarCube? = nil, lidar: PointCloud? = nil,
                gnss: GnssFix? = nil, beamPower: BeamPower? = nil) {
        self.init(header: FrameHeader(seq: seq, stamp: stamp), camera: camera, radar: radar, lidar: lidar, gnss: gnss, beamPower: beamPower)
    }

    /// The modalities present in this frame.
    public var present: Set<Modality> {
        var set = Set<Modality>()
        if camera != nil { set.insert(.camera) }
        if radar != nil { set.insert(.radar) }
        if lidar != nil { set.insert(.lidar) }
        if gnss != nil { set.insert(.gnss) }
        if beamPower != nil { set.insert(.beamPower) }
        return set
    }
}

/// A frame after preprocessing: its header, a tensor per modality that was present and valid
/// (the learned model's inputs), what the classical predictor reads of the same inputs (site-frame
/// LiDAR points, beam power in dBm), and the reason for every present modality that was rejected.
/// Predictors see views of it (`FrameView`), never a second copy of the raw messages.
public struct PreprocessedFrame: Sendable, Equatable {
    /// The frame's header, as the synchronizer made it.
    public var header: FrameHeader
    /// Frame sequence number.
    public var seq: UInt64 { header.seq }
    /// Frame time, ns since the epoch.
    public var stamp: Int64 { header.stamp }
    /// Tensors by modality.
    public var tensors: ModalityMap<PreprocessedTensor>
    /// Rejections by modality.
    public var failures: ModalityMap<PreprocessError>
    /// The LiDAR points in the site frame (when LiDAR was processed with a site pose).
    public var lidarPoints: [SIMD3<Float>]?
    /// The measured beam power in dBm, floored (when beam power was processed).
    public var beamPowerDBm: [Float]?
    /// Modalities present in the frame whose model-input tensor was not computed because no
    /// consumer reads it (``FrontEndConfiguration/modelInputs``): present, not missing, no tensor.
    /// LiDAR may be here with ``lidarPoints`` set (what the classical predictor reads of it).
    public var unprocessed: Set<Modality>

    /// Creates a processed frame.
    public init(header: FrameHeader, tensors: ModalityMap<PreprocessedTensor> = [:], failures: ModalityMap<PreprocessError> = [:],
                lidarPoints: [SIMD3<Float>]? = nil, beamPowerDBm: [Float]? = nil, unprocessed: Set<Modality> = []) {
        self.header = header; self.tensors = tensors; self.failures = failures
        self.lidarPoints = lidarPoints; self.beamPowerDBm = beamPowerDBm; self.unprocessed = unprocessed
    }

    /// Creates a processed frame with a bare header (number and stamp only).
    public init(seq: UInt64, stamp: Int64, tensors: ModalityMap<PreprocessedTensor> = [:], failures: ModalityMap<PreprocessError> = [:]) {
        self.init(header: FrameHeader(seq: seq, stamp: stamp), tensors: tensors, failures: failures)
    }

    /// Removes a modality as if its sensor had been silent (`--drop` ablations): its tensor, what
    /// the classical predictor reads of it and its member are gone, and it is listed as missing.
    public mutating func drop(_ modality: Modality) {
        tensors[modality] = nil
        failures[modality] = nil
        unprocessed.remove(modality)
        switch modality {
        case .lidar: lidarPoints = nil
        case .beamPower: beamPowerDBm = nil
        case .camera, .radar, .gnss: break
        }
        header.drop(modality)
    }
}

/// Parameters of the whole preprocessing front end.
public struct FrontEndConfiguration: Sendable {
    /// Camera parameters.
    public var camera = CameraParameters()
    /// Radar parameters.
    public var radar = RadarParameters()
    /// LiDAR parameters.
    public var lidar = LidarParameters()
    /// GNSS reference (the base station position from the site calibration).
    public var gnss: GnssProjector
    /// Beam power parameters.
    public var beamPower = BeamPowerParameters()
    /// The modalities whose model-input tensor is computed (default: all five). Leave out what no
    /// consumer reads: a camera image or radar cube left out is not processed at all, and a LiDAR
    /// cloud left out yields only its site-frame points (no depth image); the frame lists them in
    /// ``PreprocessedFrame/unprocessed``. GNSS and beam power are always processed (they cost
    /// microseconds, and the classical predictor reads them). Offline evaluation of predictors that
    /// read no camera or radar tensor uses this; the live daemon and `foresight dataset` process
    /// everything (every input checked and counted, every tensor exported).
    public var modelInputs: Set<Modality> = Set(Modality.allCases)
    /// Frames waiting to be processed; beyond this the oldest waiting frame is dropped.
    public var inputCapacity = 4
    /// Processed frames waiting for the consumer; beyond this the oldest is dropped.
    public var outputCapacity = 8
    /// Frames processed at the same time (pipelining across stages), at least 1.
    public var framesInFlight = 2

    /// Creates a configuration around a GNSS projector.
    public init(gnss: GnssProjector) { self.gnss = gnss }
}

/// Counters of the front end (monotonic).
public struct FrontEndStatistics: Sendable, Equatable {
    /// Frames given to `submit`.
    public var submitted: Int
    /// Frames dropped before processing because the input queue was full.
    public var droppedInput: Int
    /// Frames fully processed.
    public var processed: Int
    /// Processed frames dropped because the consumer did not keep up.
    public var droppedOutput: Int
    /// Modality inputs rejected.
    public var rejectedInputs: Int
}

/// The preprocessing front end: one actor per modality (each on its own thread; GNSS and beam
/// power share one), a bounded drop-oldest input queue that never blocks the caller, and an
/// ordered output stream. A frame is emitted when all of its present modalities are done.
///
/// Call `finish()` when done: the internal queue task (and so the stage threads) live until the
/// input ends and the queue drains.
public final class FramePreprocessor: Sendable {
    let camera: PreprocessingStage<CameraPreprocessor>
    private let radar: PreprocessingStage<RadarPreprocessor>
    private let lidar: PreprocessingStage<LidarPreprocessor>
    private let gnss: PreprocessingStage<GnssProjector>
    private let beamPower: PreprocessingStage<BeamPowerPreprocessor>
    private let lightExecutor: DedicatedThreadExecutor
    /// The modalities whose model-input tensor is computed (``FrontEndConfiguration/modelInputs``).
    public let modelInputs: Set<Modality>
    private let input: AsyncStream<RawFrame>.Continuation
    private let submitted = Atomic<Int>(0)
    private let droppedInput = Atomic<Int>(0)
    private let processed = Atomic<Int>(0)
    private let droppedOutput = Atomic<Int>(0)
    private let rejected = Atomic<Int>(0)

    /// Processed frames, in submission order. Finishes after `finish()` once the queue drains.
    public let output: AsyncStream<PreprocessedFrame>

    /// Builds every stage; fails on invalid parameters.
    public init(configuration: FrontEndConfiguration) throws(PreprocessError) {
        guard configuration.inputCapacity > 0, configuration.outputCapacity > 0, configuration.framesInFlight > 0 else {
            throw .badParameter("front end capacities and framesInFlight must be positive")
        }
        camera = PreprocessingStage(try CameraPreprocessor(parameters: configuration.camera), name: "fs-pre-camera")
        radar = PreprocessingStage(try RadarPreprocessor(parameters: configuration.radar), name: "fs-pre-radar")
        lidar = PreprocessingStage(try LidarPreprocessor(parameters: configuration.lidar), name: "fs-pre-lidar")
        lightExecutor = DedicatedThreadExecutor(name: "fs-pre-light")
        modelInputs = configuration.modelInputs.union([.gnss, .beamPower])
        gnss = PreprocessingStage(configuration.gnss, sharing: lightExecutor)
        beamPower = PreprocessingStage(try BeamPowerPreprocessor(parameters: configuration.beamPower), sharing: lightExecutor)

        let (inStream, inContinuation) = AsyncStream.makeStream(of: RawFrame.self,
                                                                bufferingPolicy: .bufferingNewest(configuration.inputCapacity))
        let (outStream, outContinuation) = AsyncStream.makeStream(of: PreprocessedFrame.self,
                                                                  bufferingPolicy: .bufferingNewest(configuration.outputCapacity))
        input = inContinuation
        output = outStream
        let slots = InFlightSlots(configuration.framesInFlight)
        let (order, orderContinuation) = AsyncStream.makeStream(of: Task<PreprocessedFrame, Never>.self)
        // Producer: start each frame as soon as a slot is free (at most `framesInFlight` at once).
        Task { [self] in
            for await frame in inStream {
                await slots.acquire()
                orderContinuation.yield(Task { await self.process(frame) })
            }
            orderContinuation.finish()
        }
        // Consumer: emit frames in submission order, each as soon as it (and those before it) are done.
        Task { [self] in
            for await task in order {
                let frame = await task.value
                processed.add(1, ordering: .relaxed)
                if case .dropped = outContinuation.yield(frame) { droppedOutput.add(1, ordering: .relaxed) }
                await slots.release()
            }
            outContinuation.finish()
            lightExecutor.stop()
        }
    }

    /// Queues a frame; never blocks. When the queue is full the oldest waiting frame is dropped
    /// and counted in `statistics.droppedInput`.
    public func submit(_ frame: RawFrame) {
        submitted.add(1, ordering: .relaxed)
        if case .dropped = input.yield(frame) { droppedInput.add(1, ordering: .relaxed) }
    }

    /// Ends the input; `output` finishes once the queued frames are processed.
    public func finish() {
        input.finish()
    }

    /// Current counters.
    public var statistics: FrontEndStatistics {
        FrontEndStatistics(submitted: submitted.load(ordering: .relaxed), droppedInput: droppedInput.load(ordering: .relaxed),
                           processed: processed.load(ordering: .relaxed), droppedOutput: droppedOutput.load(ordering: .relaxed),
                           rejectedInputs: rejected.load(ordering: .relaxed))
    }

    /// Processes one frame directly (bypassing the queue): the present modalities run
    /// concurrently on their own actors; returns when all of them are done. Modalities outside
    /// ``FrontEndConfiguration/modelInputs`` are skipped (LiDAR: site points only) and listed in
    /// ``PreprocessedFrame/unprocessed``.
    public func process(_ frame: RawFrame) async -> PreprocessedFrame {
        let wanted = modelInputs
        let skippedCamera = frame.camera != nil && !wanted.contains(.camera)
        let skippedRadar = frame.radar != nil && !wanted.contains(.radar)
        let pointsOnly = frame.lidar != nil && !wanted.contains(.lidar)
        async let c = Self.run(camera, skippedCamera ? nil : frame.camera)
        async let r = Self.run(radar, skippedRadar ? nil : frame.radar)
        async let l = pointsOnly ? Self.sitePoints(lidar, frame.lidar) : Self.run(lidar, frame.lidar)
        async let g = Self.run(gnss, frame.gnss)
        async let b = Self.run(beamPower, frame.beamPower)
        let results: [(Modality, Result<ModalityOutput, PreprocessError>?)] =
            [(.camera, await c), (.radar, await r), (.lidar, await l), (.gnss, await g), (.beamPower, await b)]
        var out = PreprocessedFrame(header: frame.header)
        if skippedCamera { out.unprocessed.insert(.camera) }
        if skippedRadar { out.unprocessed.insert(.radar) }
        for (modality, result) in results {
            switch result {
            case .none: break
            case let .success(output)?:
                if let tensor = output.tensor { out.tensors[modality] = tensor } else { out.unprocessed.insert(modality) }
                if let points = output.sitePoints { out.lidarPoints = points }
                if let dBm = output.dBm { out.beamPowerDBm = dBm }
            case let .failure(error)?:
                out.failures[modality] = error
                rejected.add(1, ordering: .relaxed)
            }
        }
        return out
    }

    private static func run<P: ModalityProcessing>(_ stage: PreprocessingStage<P>, _ input: P.Input?) async
        -> Result<ModalityOutput, PreprocessError>? {
        guard let input else { return nil }
        do { return .success(try await stage.processAll(input)) } catch { return .failure(error) }
    }

    /// A LiDAR cloud's site-frame points alone: an output without a tensor (no depth image).
    private static func sitePoints(_ stage: PreprocessingStage<LidarPreprocessor>, _ input: PointCloud?) async
        -> Result<ModalityOutput, PreprocessError>? {
        guard let input else { return nil }
        do { return .success(ModalityOutput(tensor: nil, sitePoints: try await stage.sitePoints(input))) } catch { return .failure(error) }
    }
}

/// A counting semaphore for frames in flight (async, never blocks a thread).
actor InFlightSlots {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = count }

    func acquire() async {
        if free > 0 { free -= 1; return }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}
