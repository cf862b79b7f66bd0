import ForesightCore
import ForesightPredict

/// The predictor's window of recent frames, shared by the daemon's predictor stage and
/// `foresight dataset` so that serving and training data see the same windows: a new segment
/// (``SegmentTracker``) empties it, each frame is appended, the oldest fall off beyond `history`,
/// and each frame's horizon stamps follow it (``Horizon/stamps(after:steps:step:)``).
public struct PredictorWindow: Sendable {
    /// What adding one frame did.
    public struct Step: Sendable, Equatable {
        /// The frame started a new segment.
        public var segmentStarted: Bool
        /// The frame started a new segment and the window held frames of the previous one
        /// (streaming predictors must be reset before predicting from it).
        public var cleared: Bool
        /// The stamps to predict for after this frame, nearest first.
        public var horizon: [Int64]
    }

    /// Frames kept (the oldest fall off beyond this).
    public let history: Int
    /// Future steps after each frame.
    public let steps: Int
    /// Time between future steps, ns.
    public let step: Int64
    /// The frames of the window, oldest first (never more than `history`).
    public private(set) var frames: [FrameView] = []
    private var segments: SegmentTracker

    /// Creates an empty window; `resetGap` (ns) is the segment rule's longest gap.
    public init(history: Int, steps: Int, step: Int64, resetGap: Int64) {
        self.history = history
        self.steps = steps
        self.step = step
        segments = SegmentTracker(resetGap: resetGap)
    }

    /// The current segment number (−1 before the first frame).
    public var segment: Int { segments.segment }

    /// Adds a frame of synchronizer epoch `epoch` (see ``SegmentTracker/advance(stamp:epoch:)``).
    public mutating func append(_ frame: FrameView, epoch: UInt64) -> Step {
        let started = segments.advance(stamp: frame.stamp, epoch: epoch)
        let cleared = started && !frames.isEmpty
        if cleared { frames.removeAll() }
        frames.append(frame)
        if frames.count > history { frames.removeFirst(frames.count - history) }
        return Step(segmentStarted: started, cleared: cleared,
                    horizon: Horizon.stamps(after: frame.stamp, steps: steps, step: step))
    }
}
