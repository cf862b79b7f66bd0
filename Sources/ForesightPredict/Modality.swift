/// The five sensor modalities a fused frame can carry.
///
/// Raw values are the names used on the wire (`fusion/frame` members and `missing`).
public enum Modality: String, Sendable, Hashable, CaseIterable, Codable {
    /// RGB camera (`sensor/camera`).
    case camera
    /// FMCW radar cube (`sensor/radar`).
    case radar
    /// LiDAR point cloud (`sensor/lidar`).
    case lidar
    /// GNSS fix of the UE (`sensor/gnss`).
    case gnss
    /// Per-beam received power scan (`sensor/beam_power`).
    case beamPower = "beam_power"
}
