/// The classical predictor's estimates of every horizon step, as the coarse inputs a learned model's
/// heads refine (docs/inference.md, "Coarse inputs").
///
/// `foresight dataset` stores them next to each frame and the daemon's learned predictor computes
/// them from the same window with the same code, so a model never sees at run time anything other
/// than what it was trained on. Layouts are row-major and flat for the engine: `F` horizon steps,
/// `B` codebook beams.
public struct CoarseEstimates: Sendable, Equatable {
    /// Predicted UE east/north per step, metres in the site frame, `[F × 2]` (zeros when
    /// `positionKnown` is false).
    public var positions: [Float]
    /// The classical beam ranker's logit of every beam per step, `[F × B]`, in [−64, 0]
    /// (the classical beam ranker's logits of the predicted azimuth; all zeros without a position).
    public var beamLogits: [Float]
    /// The classical power trend of the predicted best beam per step, dBm, `[F]`.
    public var powerDBm: [Float]
    /// The classical blockage probability per step, `[F]`.
    public var blockageProbability: [Float]
    /// Whether the window had a GNSS fix (the positions are estimates, not placeholders).
    public var positionKnown: Bool

    /// Creates coarse estimates from their parts.
    public init(positions: [Float], beamLogits: [Float], powerDBm: [Float], blockageProbability: [Float], positionKnown: Bool) {
        self.positions = positions
        self.beamLogits = beamLogits
        self.powerDBm = powerDBm
        self.blockageProbability = blockageProbability
        self.positionKnown = positionKnown
    }
}
