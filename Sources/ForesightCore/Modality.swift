/// The five sensor modalities a fused frame can carry — the one modality type of the code base.
///
/// Raw values are the names used on the wire (`fusion/frame` members and `missing`, launch-file
/// keys, `--drop` arguments); case order is the frame order (synchronizer topic index, token order
/// of the learned model, the dataset's `present` columns).
public enum Modality: String, Sendable, Hashable, CaseIterable, Codable, Comparable, CustomStringConvertible {
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

    /// Position in the frame order (0 for camera … 4 for beam power).
    public var index: Int {
        switch self {
        case .camera: return 0
        case .radar: return 1
        case .lidar: return 2
        case .gnss: return 3
        case .beamPower: return 4
        }
    }

    /// The modality at frame-order position `index`, or nil outside 0..<5.
    public init?(index: Int) {
        guard Modality.allCases.indices.contains(index) else { return nil }
        self = Modality.allCases[index]
    }

    /// The wire name (`beam_power`, not the Swift case name).
    public var description: String { rawValue }

    /// Frame order.
    public static func < (a: Modality, b: Modality) -> Bool { a.index < b.index }
}
